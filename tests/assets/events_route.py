#!/usr/bin/env python3
"""Deploys the shipped event templates into moto (in process, no network) and routes events.

central.yaml and member.yaml of <deploy/events>/cloudformation are created as CloudFormation
stacks in moto's emulator, the member stack forwarding to the central bus. Then events shaped like
ECR's CloudTrail events are put on the default bus, and the script prints, as JSON, the stacks'
status and the `detail.eventName` of every message that reached the exporter's queue (in the order
received; each message is deleted). AWS refuses PutEvents with an `aws.` source; moto accepts it,
which is what lets a test inject CloudTrail-shaped events here. Moto does not implement the
EventBusPolicy and QueuePolicy resources (it skips them with a warning), so the permissions are
checked by tests/assets/events_templates.py, not here.

Usage: events_route.py <deploy/events directory>
Prints {"central": status, "member": status, "delivered": [eventName, ...]}.
"""

import json
import pathlib
import sys
import warnings

import boto3
from moto import mock_aws

REGION = "eu-west-1"

# The eight events the exporter acts on, and look-alikes the rule must drop.
SENT = [
    ("aws.ecr", "AWS API Call via CloudTrail", "ecr.amazonaws.com", name)
    for name in [
        "SetRepositoryPolicy", "DeleteRepositoryPolicy", "CreateRepository", "DeleteRepository",
        "TagResource", "UntagResource", "PutRegistryPolicy", "DeleteRegistryPolicy",
    ]
] + [
    ("aws.ecr", "AWS API Call via CloudTrail", "ecr.amazonaws.com", "PutImage"),
    ("aws.ecr", "AWS API Call via CloudTrail", "ecr.amazonaws.com", "GetRepositoryPolicy"),
    ("aws.ecr", "ECR Image Action", "ecr.amazonaws.com", "SetRepositoryPolicy"),
    ("aws.s3", "AWS API Call via CloudTrail", "s3.amazonaws.com", "DeleteRepository"),
]


def stack(cfn, name, path, parameters, capabilities=()):
    cfn.create_stack(
        StackName=name,
        TemplateBody=path.read_text(),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=list(capabilities),
    )
    return cfn.describe_stacks(StackName=name)["Stacks"][0]


@mock_aws
def route(root):
    cfn = boto3.client("cloudformation", region_name=REGION)
    central = stack(cfn, "ecr-exposure-events", root / "central.yaml",
                    {"OrganizationId": "o-abcdefghij"})
    outputs = {o["OutputKey"]: o["OutputValue"] for o in central.get("Outputs", [])}
    member = stack(cfn, "ecr-exposure-forward", root / "member.yaml",
                   {"CentralEventBusArn": outputs.get("EventBusArn", "")}, ["CAPABILITY_IAM"])

    events = boto3.client("events", region_name=REGION)
    for source, detail_type, event_source, name in SENT:
        detail = {
            "eventSource": event_source,
            "eventName": name,
            "awsRegion": REGION,
            "recipientAccountId": "222222222222",
            "requestParameters": {"repositoryName": "web"},
        }
        result = events.put_events(Entries=[{
            "Source": source, "DetailType": detail_type, "Detail": json.dumps(detail),
        }])
        if result["FailedEntryCount"]:
            raise SystemExit(f"put_events failed: {result}")

    sqs = boto3.client("sqs", region_name=REGION)
    delivered = []
    while True:
        messages = sqs.receive_message(
            QueueUrl=outputs["QueueUrl"], MaxNumberOfMessages=10, WaitTimeSeconds=0,
        ).get("Messages", [])
        if not messages:
            break
        for m in messages:
            delivered.append(json.loads(m["Body"])["detail"]["eventName"])
            sqs.delete_message(QueueUrl=outputs["QueueUrl"], ReceiptHandle=m["ReceiptHandle"])
    return {
        "central": central["StackStatus"],
        "member": member["StackStatus"],
        "delivered": delivered,
    }


def main(argv):
    warnings.simplefilter("ignore")
    print(json.dumps(route(pathlib.Path(argv[1]) / "cloudformation")))


if __name__ == "__main__":
    main(sys.argv)
