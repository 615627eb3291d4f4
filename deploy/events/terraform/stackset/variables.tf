variable "central_event_bus_arn" {
  description = "The event_bus_arn output of ../central."
  type        = string
}

variable "organizational_unit_ids" {
  description = "OUs to deploy to (the root id r-... for the whole organization)."
  type        = list(string)
}

variable "regions" {
  description = "Every region the exporter scans (ECR events are regional)."
  type        = list(string)
}

variable "call_as" {
  description = "DELEGATED_ADMIN when applied from a delegated StackSets administrator account."
  type        = string
  default     = "SELF"
}
