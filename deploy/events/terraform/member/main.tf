# ecr-exposure-exporter event-driven detection, one member account and region: the same resources
# as deploy/events/cloudformation/member.yaml (a rule on the default bus that forwards ECR policy,
# tag and repository changes to the central bus, and the role EventBridge uses for it). Apply it
# once per account and region with a provider for each, or use ../stackset to let CloudFormation
# StackSets do it for the whole organization. IAM is global: with several regions per account,
# the role names differ by region.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  # Keep in step with ../central/main.tf and the CloudFormation templates.
  ecr_event_pattern = {
    source        = ["aws.ecr"]
    "detail-type" = ["AWS API Call via CloudTrail"]
    detail = {
      eventSource = ["ecr.amazonaws.com"]
      eventName = [
        "SetRepositoryPolicy",
        "DeleteRepositoryPolicy",
        "CreateRepository",
        "DeleteRepository",
        "TagResource",
        "UntagResource",
        "PutRegistryPolicy",
        "DeleteRegistryPolicy",
      ]
    }
  }
}

# EventBridge needs a role of this account to put events on a bus of another account or region;
# it may do nothing else.
data "aws_iam_policy_document" "trust" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

data "aws_iam_policy_document" "put_events" {
  statement {
    effect    = "Allow"
    actions   = ["events:PutEvents"]
    resources = [var.central_event_bus_arn]
  }
}

resource "aws_iam_role" "forward" {
  name               = "ecr-exposure-forward-${data.aws_region.current.name}"
  description        = "Lets EventBridge forward ECR change events to the ecr-exposure-exporter bus."
  assume_role_policy = data.aws_iam_policy_document.trust.json
}

resource "aws_iam_role_policy" "forward" {
  name   = "put-events-on-central-bus"
  role   = aws_iam_role.forward.id
  policy = data.aws_iam_policy_document.put_events.json
}

resource "aws_cloudwatch_event_rule" "forward" {
  name          = "ecr-exposure-forward"
  description   = "ECR policy, tag and repository changes, to the ecr-exposure-exporter central bus."
  event_pattern = jsonencode(local.ecr_event_pattern)
}

resource "aws_cloudwatch_event_target" "central_bus" {
  rule      = aws_cloudwatch_event_rule.forward.name
  target_id = "central-bus"
  arn       = var.central_event_bus_arn
  role_arn  = aws_iam_role.forward.arn
}
