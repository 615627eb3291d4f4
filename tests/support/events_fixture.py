#!/usr/bin/env python3
"""Test-only helper for the event tests: moto's SQS and EventBridge as the exporter sees them.

  python tests/support/events_fixture.py --endpoint URL setup --queue NAME [--repo NAME[=public]]...
      Creates the queue, an EventBridge rule on the default bus matching ECR's CloudTrail events
      with the queue as its target, and the repositories (tagged owner=team; "=public" gives a
      public pull policy). Prints {"queue_url": ..., "queue_arn": ...}.
  ... put-event --name SetRepositoryPolicy [--repo NAME] [--account ID] [--event-time ISO]
      PutEvents an "AWS API Call via CloudTrail" event of source aws.ecr on the default bus: the
      rule delivers it to the queue as EventBridge would (the message body is the event).
  ... send-raw --queue-url URL --body TEXT        SendMessage as is (malformed bodies).
  ... set-policy --repo NAME (public|private)    SetRepositoryPolicy / DeleteRepositoryPolicy.
  ... delete-repo --repo NAME                    DeleteRepository (force).
  ... registry-policy (replicate|none)           PutRegistryPolicy letting 999999999999
                                                 replicate (cross-account write), or delete it.
  ... depth --queue-url URL                      Prints visible + in-flight message counts.

For the benchmark (benches/events_throughput.rs):
  ... make-repos --prefix P --count N            Private repositories P0000.. (owner tagged).
  ... flood --queue-url URL --prefix P --repos N --count M
      SendMessageBatch M EventBridge-shaped SetRepositoryPolicy events naming P(i mod N).
  ... drive --prefix P --count K --interval S
      For each of P0000..: make it public, PutEvents its event, print {"repo", "sent"} (Unix
      seconds after PutEvents returned) as one JSON line; then wait S seconds.

Everything runs as account 123456789012 in us-east-1 with dummy credentials.
"""

import argparse
import datetime
import json
import time

import boto3

ACCOUNT = "123456789012"
REGION = "us-east-1"
PUBLIC = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "public-pull",
                "Effect": "Allow",
                "Principal": "*",
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            }
        ],
    }
)
REGISTRY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "replication",
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
                "Action": ["ecr:CreateRepository", "ecr:ReplicateImage"],
                "Resource": f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/*",
            }
        ],
    }
)
PATTERN = {"source": ["aws.ecr"], "detail-type": ["AWS API Call via CloudTrail"]}


def client(endpoint, service):
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def setup(endpoint, args):
    sqs = client(endpoint, "sqs")
    url = sqs.create_queue(QueueName=args.queue)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events = client(endpoint, "events")
    events.put_rule(Name=f"{args.queue}-rule", EventPattern=json.dumps(PATTERN))
    events.put_targets(Rule=f"{args.queue}-rule", Targets=[{"Id": "queue", "Arn": arn}])
    ecr = client(endpoint, "ecr")
    for spec in args.repo or []:
        name, _, kind = spec.partition("=")
        ecr.create_repository(repositoryName=name, tags=[{"Key": "owner", "Value": "team"}])
        if kind == "public":
            ecr.set_repository_policy(repositoryName=name, policyText=PUBLIC)
    print(json.dumps({"queue_url": url, "queue_arn": arn}))


def put_event(endpoint, args):
    when = args.event_time or datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    params = {"repositoryName": args.repo} if args.repo else {"registryId": args.account}
    detail = {
        "eventVersion": "1.08",
        "eventSource": "ecr.amazonaws.com",
        "eventName": args.name,
        "awsRegion": REGION,
        "eventTime": when,
        "recipientAccountId": args.account,
        "requestParameters": params,
    }
    out = client(endpoint, "events").put_events(
        Entries=[
            {
                "Source": "aws.ecr",
                "DetailType": "AWS API Call via CloudTrail",
                "Detail": json.dumps(detail),
            }
        ]
    )
    assert out["FailedEntryCount"] == 0, out


def envelope(name, repo, when):
    return {
        "version": "0",
        "id": f"bench-{repo}-{time.time_ns()}",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.ecr",
        "account": ACCOUNT,
        "time": when,
        "region": REGION,
        "resources": [],
        "detail": {
            "eventSource": "ecr.amazonaws.com",
            "eventName": name,
            "awsRegion": REGION,
            "eventTime": when,
            "recipientAccountId": ACCOUNT,
            "requestParameters": {"repositoryName": repo},
        },
    }


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_repos(endpoint, args):
    ecr = client(endpoint, "ecr")
    for i in range(args.count):
        ecr.create_repository(
            repositoryName=f"{args.prefix}{i:04d}", tags=[{"Key": "owner", "Value": "team"}]
        )


def flood(endpoint, args):
    sqs = client(endpoint, "sqs")
    entries = []
    for i in range(args.count):
        body = json.dumps(envelope("SetRepositoryPolicy", f"{args.prefix}{i % args.repos:04d}", now_iso()))
        entries.append({"Id": str(len(entries)), "MessageBody": body})
        if len(entries) == 10 or i == args.count - 1:
            sqs.send_message_batch(QueueUrl=args.queue_url, Entries=entries)
            entries = []


def drive(endpoint, args):
    ecr = client(endpoint, "ecr")
    events = client(endpoint, "events")
    for i in range(args.count):
        repo = f"{args.prefix}{i:04d}"
        ecr.set_repository_policy(repositoryName=repo, policyText=PUBLIC)
        detail = envelope("SetRepositoryPolicy", repo, now_iso())["detail"]
        events.put_events(
            Entries=[
                {
                    "Source": "aws.ecr",
                    "DetailType": "AWS API Call via CloudTrail",
                    "Detail": json.dumps(detail),
                }
            ]
        )
        print(json.dumps({"repo": repo, "sent": time.time()}), flush=True)
        time.sleep(args.interval)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("setup")
    p.add_argument("--queue", required=True)
    p.add_argument("--repo", action="append")
    p = sub.add_parser("put-event")
    p.add_argument("--name", required=True)
    p.add_argument("--repo")
    p.add_argument("--account", default=ACCOUNT)
    p.add_argument("--event-time")
    p = sub.add_parser("send-raw")
    p.add_argument("--queue-url", required=True)
    p.add_argument("--body", required=True)
    p = sub.add_parser("set-policy")
    p.add_argument("--repo", required=True)
    p.add_argument("kind", choices=["public", "private"])
    p = sub.add_parser("delete-repo")
    p.add_argument("--repo", required=True)
    p = sub.add_parser("registry-policy")
    p.add_argument("kind", choices=["replicate", "none"])
    p = sub.add_parser("depth")
    p.add_argument("--queue-url", required=True)
    p = sub.add_parser("make-repos")
    p.add_argument("--prefix", required=True)
    p.add_argument("--count", type=int, required=True)
    p = sub.add_parser("flood")
    p.add_argument("--queue-url", required=True)
    p.add_argument("--prefix", required=True)
    p.add_argument("--repos", type=int, required=True)
    p.add_argument("--count", type=int, required=True)
    p = sub.add_parser("drive")
    p.add_argument("--prefix", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--interval", type=float, default=0.5)
    args = parser.parse_args()
    ep = args.endpoint
    if args.command in ("make-repos", "flood", "drive"):
        {"make-repos": make_repos, "flood": flood, "drive": drive}[args.command](ep, args)
        return
    if args.command == "setup":
        setup(ep, args)
    elif args.command == "put-event":
        put_event(ep, args)
    elif args.command == "send-raw":
        client(ep, "sqs").send_message(QueueUrl=args.queue_url, MessageBody=args.body)
    elif args.command == "set-policy":
        ecr = client(ep, "ecr")
        if args.kind == "public":
            ecr.set_repository_policy(repositoryName=args.repo, policyText=PUBLIC)
        else:
            ecr.delete_repository_policy(repositoryName=args.repo)
    elif args.command == "delete-repo":
        client(ep, "ecr").delete_repository(repositoryName=args.repo, force=True)
    elif args.command == "registry-policy":
        ecr = client(ep, "ecr")
        if args.kind == "replicate":
            ecr.put_registry_policy(policyText=REGISTRY)
        else:
            ecr.delete_registry_policy()
    elif args.command == "depth":
        attrs = client(ep, "sqs").get_queue_attributes(
            QueueUrl=args.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        print(
            int(attrs["ApproximateNumberOfMessages"])
            + int(attrs["ApproximateNumberOfMessagesNotVisible"])
        )


if __name__ == "__main__":
    main()
