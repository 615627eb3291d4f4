variable "organization_id" {
  description = "The AWS Organizations id whose accounts may put events on the bus (o-...)."
  type        = string
  validation {
    condition     = can(regex("^o-[a-z0-9]{10,32}$", var.organization_id))
    error_message = "organization_id must look like o-xxxxxxxxxx."
  }
}

variable "event_bus_name" {
  description = "Name of the central event bus the member accounts forward to."
  type        = string
  default     = "ecr-exposure-events"
}

variable "queue_name" {
  description = "Name of the queue the exporter reads (events.sqs_queue_url); the dead-letter queue gets a -dlq suffix."
  type        = string
  default     = "ecr-exposure-events"
}

variable "visibility_timeout_seconds" {
  description = "How long a received message stays invisible: longer than one rescan takes."
  type        = number
  default     = 300
}
