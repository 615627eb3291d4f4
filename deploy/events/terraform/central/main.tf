# ecr-exposure-exporter event-driven detection, central account: the same resources as
# deploy/events/cloudformation/central.yaml (a bus the organization forwards to, a rule that
# sends ECR policy, tag and repository changes to an SQS queue with a dead-letter queue, and the
# policies that let EventBridge write to them). Apply it in the account and region where the
# exporter runs; apply ../member (or ../stackset) in every account and region it scans.

locals {
  # Keep in step with ../member/main.tf and the CloudFormation templates
  # (tests/assets_events.rs checks that all four agree).
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

resource "aws_cloudwatch_event_bus" "central" {
  name = var.event_bus_name
}

# Every account of the organization may put events on the bus; nobody else.
data "aws_iam_policy_document" "bus" {
  statement {
    sid       = "AllowOrganizationToPutEvents"
    effect    = "Allow"
    actions   = ["events:PutEvents"]
    resources = [aws_cloudwatch_event_bus.central.arn]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:PrincipalOrgID"
      values   = [var.organization_id]
    }
  }
}

resource "aws_cloudwatch_event_bus_policy" "central" {
  event_bus_name = aws_cloudwatch_event_bus.central.name
  policy         = data.aws_iam_policy_document.bus.json
}

resource "aws_sqs_queue" "dead_letter" {
  name                      = "${var.queue_name}-dlq"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
}

resource "aws_sqs_queue" "events" {
  name = var.queue_name
  # The exporter long-polls: an empty receive waits up to 20 s instead of returning at once.
  receive_wait_time_seconds  = 20
  visibility_timeout_seconds = var.visibility_timeout_seconds
  # Four days: enough to ride out an exporter outage; full scans catch up anyway.
  message_retention_seconds = 345600
  sqs_managed_sse_enabled   = true
  # A message that fails five rescans (each ending without a delete) is set aside.
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dead_letter.arn
    maxReceiveCount     = 5
  })
}

resource "aws_cloudwatch_event_rule" "to_queue" {
  name           = "ecr-exposure-to-queue"
  description    = "ECR policy, tag and repository changes from every account, to the exporter's queue."
  event_bus_name = aws_cloudwatch_event_bus.central.name
  event_pattern  = jsonencode(local.ecr_event_pattern)
}

resource "aws_cloudwatch_event_target" "queue" {
  rule           = aws_cloudwatch_event_rule.to_queue.name
  event_bus_name = aws_cloudwatch_event_bus.central.name
  target_id      = "exporter-queue"
  arn            = aws_sqs_queue.events.arn
  retry_policy {
    maximum_event_age_in_seconds = 86400
    maximum_retry_attempts       = 185
  }
  dead_letter_config {
    arn = aws_sqs_queue.dead_letter.arn
  }
}

# Only EventBridge, and only for this rule, may send to the queue (and, for events it cannot
# deliver, to the dead-letter queue).
data "aws_iam_policy_document" "queue" {
  statement {
    sid       = "EventBridgeRuleSendsEcrEvents"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.events.arn, aws_sqs_queue.dead_letter.arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.to_queue.arn]
    }
  }
}

resource "aws_sqs_queue_policy" "events" {
  queue_url = aws_sqs_queue.events.id
  policy    = data.aws_iam_policy_document.queue.json
}

resource "aws_sqs_queue_policy" "dead_letter" {
  queue_url = aws_sqs_queue.dead_letter.id
  policy    = data.aws_iam_policy_document.queue.json
}
