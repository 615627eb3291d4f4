#!/usr/bin/env python3
"""Reads the event set-up templates of deploy/events/ and prints what they configure as JSON.

Used by tests/assets_events.rs, which asserts on the facts: the CloudFormation templates are read
with cfn-lint's own YAML loader (it understands !Ref, !GetAtt, !Sub), the Terraform modules with
python-hcl2. References are reduced to what they point at ("rule", "queue", "dlq", "bus",
"param:central_bus"), so that the two flavours can be compared as data.

Usage: events_templates.py <deploy/events directory>
"""

import json
import pathlib
import re
import sys

import hcl2
from cfnlint.decode import decode


# ---------------------------------------------------------------- CloudFormation

def cfn_load(path):
    template, matches = decode(str(path))
    if matches:
        raise SystemExit(f"{path}: {[str(m) for m in matches]}")
    return template


def cfn_plain(value):
    """The decoder's node types as plain dicts, lists and strings."""
    if isinstance(value, dict):
        return {str(k): cfn_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [cfn_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def cfn_ref(template, value):
    """What a !Ref / !GetAtt points at."""
    resources = template["Resources"]
    if isinstance(value, dict) and "Ref" in value:
        name = value["Ref"]
    elif isinstance(value, dict) and "Fn::GetAtt" in value:
        att = value["Fn::GetAtt"]
        name = att[0] if isinstance(att, list) else att.split(".")[0]
    else:
        return value
    if name == "CentralEventBusArn":
        return "param:central_bus"
    if name not in resources:
        return f"param:{name}"
    kind = resources[name]["Type"]
    if kind == "AWS::SQS::Queue":
        return "dlq" if "RedrivePolicy" not in resources[name]["Properties"] else "queue"
    return {"AWS::Events::Rule": "rule", "AWS::Events::EventBus": "bus",
            "AWS::IAM::Role": "role"}.get(kind, kind)


def cfn_of_type(template, kind):
    return [r for r in template["Resources"].values() if r["Type"] == kind]


def cfn_facts(directory):
    central = cfn_plain(cfn_load(directory / "central.yaml"))
    member = cfn_plain(cfn_load(directory / "member.yaml"))
    stackset = cfn_plain(cfn_load(directory / "stackset.yaml"))

    (rule,) = cfn_of_type(central, "AWS::Events::Rule")
    rule = rule["Properties"]
    queues = {cfn_ref(central, {"Ref": n}): r["Properties"]
              for n, r in central["Resources"].items() if r["Type"] == "AWS::SQS::Queue"}
    queue = queues["queue"]
    (bus_policy,) = cfn_of_type(central, "AWS::Events::EventBusPolicy")
    statement = bus_policy["Properties"]["Statement"]
    (queue_policy,) = cfn_of_type(central, "AWS::SQS::QueuePolicy")
    (qp_statement,) = queue_policy["Properties"]["PolicyDocument"]["Statement"]
    (target,) = rule["Targets"]

    (m_rule,) = cfn_of_type(member, "AWS::Events::Rule")
    (m_role,) = cfn_of_type(member, "AWS::IAM::Role")
    (m_target,) = m_rule["Properties"]["Targets"]
    (m_policy,) = m_role["Properties"]["Policies"]
    (m_trust,) = m_role["Properties"]["AssumeRolePolicyDocument"]["Statement"]

    (ss,) = cfn_of_type(stackset, "AWS::CloudFormation::StackSet")
    ss = ss["Properties"]
    return {
        "central": {
            "pattern": rule["EventPattern"],
            "rule_on": cfn_ref(central, rule["EventBusName"]),
            "target": cfn_ref(central, target["Arn"]),
            "target_dead_letter": cfn_ref(central, target["DeadLetterConfig"]["Arn"]),
            "queue": {
                "receive_wait_seconds": queue["ReceiveMessageWaitTimeSeconds"],
                "dead_letter": cfn_ref(central, queue["RedrivePolicy"]["deadLetterTargetArn"]),
                "max_receive_count": queue["RedrivePolicy"]["maxReceiveCount"],
                "sse": queue["SqsManagedSseEnabled"],
            },
            "queue_policy": {
                "queues": sorted(cfn_ref(central, q) for q in queue_policy["Properties"]["Queues"]),
                "principal": qp_statement["Principal"],
                "action": qp_statement["Action"],
                "source_arn": cfn_ref(central, qp_statement["Condition"]["ArnEquals"]["aws:SourceArn"]),
            },
            "bus_policy": {
                "action": statement["Action"],
                "principal": statement["Principal"],
                "condition": sorted(statement["Condition"]["StringEquals"]),
            },
        },
        "member": {
            "pattern": m_rule["Properties"]["EventPattern"],
            "rule_on": m_rule["Properties"].get("EventBusName", "default"),
            "target": cfn_ref(member, m_target["Arn"]),
            "target_role": cfn_ref(member, m_target["RoleArn"]),
            "role_trust": m_trust["Principal"],
            "role_actions": [s["Action"] for s in m_policy["PolicyDocument"]["Statement"]],
            "role_resources": [cfn_ref(member, s["Resource"])
                               for s in m_policy["PolicyDocument"]["Statement"]],
        },
        "stackset": {
            "permission_model": ss["PermissionModel"],
            "auto_deployment": ss["AutoDeployment"]["Enabled"],
            "capabilities": ss["Capabilities"],
            "parameters": sorted(p["ParameterKey"] for p in ss["Parameters"]),
        },
    }


# ---------------------------------------------------------------- Terraform

def tf_clean(value):
    """python-hcl2 keeps HCL's quotes and adds bookkeeping keys: drop both."""
    if isinstance(value, dict):
        return {tf_clean(k): tf_clean(v) for k, v in value.items()
                if k not in ("__comments__", "__is_block__")}
    if isinstance(value, list):
        return [tf_clean(v) for v in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def tf_load(directory):
    merged = {}
    for path in sorted(directory.glob("*.tf")):
        with open(path) as f:
            doc = tf_clean(hcl2.load(f))
        for key, blocks in doc.items():
            merged.setdefault(key, []).extend(blocks)
    return merged


def tf_resources(doc, kind):
    return {name: body for block in doc.get("resource", []) for k, named in block.items()
            if k == kind for name, body in named.items()}


def tf_data(doc, kind):
    return {name: body for block in doc.get("data", []) for k, named in block.items()
            if k == kind for name, body in named.items()}


def tf_local(doc, name):
    for block in doc.get("locals", []):
        if name in block:
            return block[name]
    raise SystemExit(f"no local {name}")


TF_KINDS = {"aws_cloudwatch_event_rule": "rule", "aws_cloudwatch_event_bus": "bus",
            "aws_iam_role": "role"}


def tf_ref(doc, value):
    """What an interpolation such as ${aws_sqs_queue.events.arn} points at."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    m = re.fullmatch(r"\$\{([a-z0-9_]+)\.([a-z0-9_]+)(?:\.([a-z0-9_]+))?\}", str(value))
    if not m:
        return value
    kind, name = m.group(1), m.group(2)
    if kind == "var":
        return "param:central_bus" if name == "central_event_bus_arn" else f"param:{name}"
    if kind == "aws_sqs_queue":
        body = tf_resources(doc, kind)[name]
        return "queue" if "redrive_policy" in body else "dlq"
    return TF_KINDS.get(kind, kind)


def tf_pattern(doc, rule):
    m = re.fullmatch(r"\$\{jsonencode\(local\.([a-z_]+)\)\}", rule["event_pattern"])
    if not m:
        raise SystemExit(f"event_pattern is not jsonencode(local.x): {rule['event_pattern']}")
    return tf_local(doc, m.group(1))


def tf_statement(doc, policy_ref):
    m = re.fullmatch(r"\$\{data\.aws_iam_policy_document\.([a-z_]+)\.json\}", policy_ref)
    (statement,) = tf_data(doc, "aws_iam_policy_document")[m.group(1)]["statement"]
    return statement


def tf_principal(statement):
    (p,) = statement["principals"]
    if p["type"] == "*":
        return "*"
    (identifier,) = p["identifiers"]
    return {p["type"]: identifier}


def tf_redrive(value):
    m = re.fullmatch(r"\$\{jsonencode\(\{deadLetterTargetArn = (.+), maxReceiveCount = (\d+)\}\)\}",
                     value)
    return "${" + m.group(1) + "}", int(m.group(2))


def tf_facts(directory):
    central = tf_load(directory / "central")
    member = tf_load(directory / "member")
    stackset = tf_load(directory / "stackset")

    (rule,) = tf_resources(central, "aws_cloudwatch_event_rule").values()
    (target,) = tf_resources(central, "aws_cloudwatch_event_target").values()
    queue = tf_resources(central, "aws_sqs_queue")["events"]
    dead_letter, max_receive = tf_redrive(queue["redrive_policy"])
    (bus_policy,) = tf_resources(central, "aws_cloudwatch_event_bus_policy").values()
    bus_statement = tf_statement(central, bus_policy["policy"])
    queue_policies = tf_resources(central, "aws_sqs_queue_policy").values()
    qp_statements = [tf_statement(central, p["policy"]) for p in queue_policies]
    qp_statement = qp_statements[0]
    if any(s != qp_statement for s in qp_statements):
        raise SystemExit("the queue and dead-letter queue policies differ")
    (qp_condition,) = qp_statement["condition"]
    (bus_condition,) = bus_statement["condition"]

    (m_rule,) = tf_resources(member, "aws_cloudwatch_event_rule").values()
    (m_target,) = tf_resources(member, "aws_cloudwatch_event_target").values()
    (m_role,) = tf_resources(member, "aws_iam_role").values()
    m_trust = tf_statement(member, m_role["assume_role_policy"])
    (m_role_policy,) = tf_resources(member, "aws_iam_role_policy").values()
    m_put = tf_statement(member, m_role_policy["policy"])

    (ss,) = tf_resources(stackset, "aws_cloudformation_stack_set").values()
    (auto,) = ss["auto_deployment"]
    return {
        "central": {
            "pattern": tf_pattern(central, rule),
            "rule_on": tf_ref(central, rule["event_bus_name"]),
            "target": tf_ref(central, target["arn"]),
            "target_dead_letter": tf_ref(central, target["dead_letter_config"][0]["arn"]),
            "queue": {
                "receive_wait_seconds": queue["receive_wait_time_seconds"],
                "dead_letter": tf_ref(central, dead_letter),
                "max_receive_count": max_receive,
                "sse": queue["sqs_managed_sse_enabled"],
            },
            "queue_policy": {
                "queues": sorted(tf_ref(central, r) for r in qp_statement["resources"]),
                "principal": tf_principal(qp_statement),
                "action": qp_statement["actions"][0],
                "source_arn": tf_ref(central, qp_condition["values"]),
            },
            "bus_policy": {
                "action": bus_statement["actions"][0],
                "principal": tf_principal(bus_statement),
                "condition": [bus_condition["variable"]],
            },
        },
        "member": {
            "pattern": tf_pattern(member, m_rule),
            "rule_on": m_rule.get("event_bus_name", "default"),
            "target": tf_ref(member, m_target["arn"]),
            "target_role": tf_ref(member, m_target["role_arn"]),
            "role_trust": tf_principal(m_trust),
            "role_actions": [m_put["actions"][0]],
            "role_resources": [tf_ref(member, m_put["resources"])],
        },
        "stackset": {
            "permission_model": ss["permission_model"],
            "auto_deployment": auto["enabled"],
            "capabilities": ss["capabilities"],
            "parameters": sorted(ss["parameters"]),
            "template_body": ss["template_body"],
        },
    }


def main(argv):
    root = pathlib.Path(argv[1])
    print(json.dumps({
        "cloudformation": cfn_facts(root / "cloudformation"),
        "terraform": tf_facts(root / "terraform"),
    }, indent=1, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv)
