"""Change the ECR estate in a running moto (wrapper) during an end-to-end test.

  python moto_ops.py ENDPOINT ACCOUNT REGION create-repo NAME [KEY=VALUE ...]
  python moto_ops.py ENDPOINT ACCOUNT REGION set-policy NAME POLICY_JSON
  python moto_ops.py ENDPOINT ACCOUNT REGION delete-policy NAME
  python moto_ops.py ENDPOINT ACCOUNT REGION untag NAME KEY [KEY ...]

The account is chosen with moto's `x-moto-account-id` header; credentials are dummies and the
endpoint is the emulator, so nothing reaches AWS. Driven by tests/e2e_*.rs.
"""

import sys

import boto3


def main(argv):
    endpoint, account, region, op, name, *rest = argv
    ecr = boto3.client(
        "ecr",
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    ecr.meta.events.register(
        "before-sign.*.*",
        lambda request, **_: request.headers.__setitem__("x-moto-account-id", account),
    )
    if op == "create-repo":
        tags = [dict(zip(("Key", "Value"), kv.split("=", 1))) for kv in rest]
        ecr.create_repository(repositoryName=name, tags=tags)
    elif op == "set-policy":
        ecr.set_repository_policy(repositoryName=name, policyText=rest[0])
    elif op == "delete-policy":
        ecr.delete_repository_policy(repositoryName=name)
    elif op == "untag":
        arn = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]["repositoryArn"]
        ecr.untag_resource(resourceArn=arn, tagKeys=rest)
    else:
        print(f"unknown operation {op}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
