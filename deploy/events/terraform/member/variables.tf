variable "central_event_bus_arn" {
  description = "The event_bus_arn output of ../central."
  type        = string
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:events:[a-z0-9-]+:[0-9]{12}:event-bus/.+$", var.central_event_bus_arn))
    error_message = "central_event_bus_arn must be an event bus ARN."
  }
}
