#!/usr/bin/env python3
"""Test-only S3 client for the state-backend tests (boto3 against the moto wrapper).

  s3_objects.py ENDPOINT mb BUCKET                 create a bucket
  s3_objects.py ENDPOINT ls BUCKET PREFIX          JSON list of the keys under PREFIX
  s3_objects.py ENDPOINT get BUCKET KEY            JSON {"etag": ..., "body": <text>}
  s3_objects.py ENDPOINT put BUCKET KEY [ETAG]     body from stdin; If-Match ETAG when given;
                                                   prints JSON {"etag": ...}

Signed with dummy credentials, so the objects live in moto's default account, as the
exporter's do.
"""

import json
import sys

import boto3


def main():
    endpoint, op, bucket = sys.argv[1:4]
    rest = sys.argv[4:]
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    if op == "mb":
        s3.create_bucket(Bucket=bucket)
        print("{}")
    elif op == "ls":
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=rest[0])
        print(json.dumps(sorted(o["Key"] for p in pages for o in p.get("Contents", []))))
    elif op == "get":
        out = s3.get_object(Bucket=bucket, Key=rest[0])
        print(json.dumps({"etag": out["ETag"], "body": out["Body"].read().decode()}))
    elif op == "put":
        args = {"Bucket": bucket, "Key": rest[0], "Body": sys.stdin.buffer.read()}
        if len(rest) > 1:
            args["IfMatch"] = rest[1]
        print(json.dumps({"etag": s3.put_object(**args)["ETag"]}))
    else:
        sys.exit(f"unknown operation {op}")


if __name__ == "__main__":
    main()
