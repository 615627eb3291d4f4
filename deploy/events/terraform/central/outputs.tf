output "queue_url" {
  description = "The exporter's events.sqs_queue_url."
  value       = aws_sqs_queue.events.id
}

output "queue_arn" {
  description = "The Resource of the ConsumeEcrEventQueue statement in config/iam/exporter-policy.json."
  value       = aws_sqs_queue.events.arn
}

output "dead_letter_queue_url" {
  description = "Messages that failed delivery or five rescans."
  value       = aws_sqs_queue.dead_letter.id
}

output "event_bus_arn" {
  description = "The central_event_bus_arn of ../member and ../stackset."
  value       = aws_cloudwatch_event_bus.central.arn
}
