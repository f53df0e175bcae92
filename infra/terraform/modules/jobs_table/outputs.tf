output "table_name" {
  description = "Name of the jobs table (STK_JOBS_TABLE)."
  value       = aws_dynamodb_table.jobs.name
}

output "table_arn" {
  description = "ARN of the jobs table."
  value       = aws_dynamodb_table.jobs.arn
}

output "by_user_index_arn" {
  description = "ARN of the by_user index (what dynamodb:Query on it is authorised against)."
  value       = "${aws_dynamodb_table.jobs.arn}/index/${var.by_user_index_name}"
}
