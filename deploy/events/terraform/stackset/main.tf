# ecr-exposure-exporter event-driven detection for the whole organization: a service-managed
# StackSet that deploys deploy/events/cloudformation/member.yaml (the one member template, not a
# copy) to every account of the given OUs and regions, and to accounts that join them later.
# Apply it in the management account or a delegated StackSets administrator.

resource "aws_cloudformation_stack_set" "member_forwarding" {
  name             = "ecr-exposure-event-forwarding"
  description      = "Forwards ECR change events of every member account to the ecr-exposure-exporter bus."
  permission_model = "SERVICE_MANAGED"
  call_as          = var.call_as
  capabilities     = ["CAPABILITY_IAM"]
  template_body    = file("${path.module}/../../cloudformation/member.yaml")
  parameters = {
    CentralEventBusArn = var.central_event_bus_arn
  }
  auto_deployment {
    enabled                          = true
    retain_stacks_on_account_removal = false
  }
  operation_preferences {
    region_concurrency_type      = "PARALLEL"
    max_concurrent_percentage    = 25
    failure_tolerance_percentage = 10
  }
  lifecycle {
    # AWS manages administration_role_arn for service-managed StackSets.
    ignore_changes = [administration_role_arn]
  }
}

resource "aws_cloudformation_stack_set_instance" "member_forwarding" {
  for_each       = toset(var.regions)
  stack_set_name = aws_cloudformation_stack_set.member_forwarding.name
  call_as        = var.call_as
  region         = each.value
  deployment_targets {
    organizational_unit_ids = var.organizational_unit_ids
  }
}
