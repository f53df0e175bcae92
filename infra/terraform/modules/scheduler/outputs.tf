output "function_name" {
  description = "Name of the scheduler function."
  value       = module.function.function_name
}

output "function_log_group_name" {
  description = "Log group of the scheduler."
  value       = module.function.log_group_name
}

output "role_name" {
  description = "Execution role of the scheduler."
  value       = module.function.role_name
}

output "rule_name" {
  description = "The EventBridge rule."
  value       = aws_cloudwatch_event_rule.nightly.name
}
