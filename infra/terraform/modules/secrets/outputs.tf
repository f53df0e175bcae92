output "arns" {
  description = "Secret ARNs, keyed smashrun, supabase, token_key."
  value       = { for k, s in aws_secretsmanager_secret.this : k => s.arn }
}

output "names" {
  description = "Secret names, keyed smashrun, supabase, token_key."
  value       = { for k, s in aws_secretsmanager_secret.this : k => s.name }
}
