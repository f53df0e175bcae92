output "function_name" {
  description = "Name of the worker function."
  value       = module.function.function_name
}

output "function_log_group_name" {
  description = "Log group of the worker."
  value       = module.function.log_group_name
}

output "role_name" {
  description = "Execution role of the worker."
  value       = module.function.role_name
}

output "event_source_mapping_uuid" {
  description = "UUID of the queue -> worker event source mapping (to pause it: aws lambda update-event-source-mapping --no-enabled)."
  value       = aws_lambda_event_source_mapping.queue.uuid
}
