output "api_invoke_url" {
  description = "Default invoke URL of the API stage: API_BASE_URL for stk until the custom domain is live."
  value       = module.api.invoke_url
}

output "api_custom_domain_url" {
  description = "https://<custom domain> (null when create_custom_domain is false)."
  value       = module.api.custom_domain_url
}

output "custom_domain_target" {
  description = "DNS target of the custom domain: alias A (or CNAME) to regional_domain_name, hosted zone regional_zone_id."
  value       = module.api.custom_domain_target
}

output "custom_domain_certificate_arn" {
  description = "ACM certificate of the custom domain (issued in var.region: the endpoint is REGIONAL)."
  value       = module.api.certificate_arn
}

output "custom_domain_certificate_validation_records" {
  description = "CNAME records that validate the certificate (add them by hand when route53_zone_id is null)."
  value       = module.api.certificate_validation_records
}

output "queue_url" {
  description = "The sync-jobs queue (STK_QUEUE_URL)."
  value       = module.queue.queue_url
}

output "dead_letter_queue_url" {
  description = "The dead-letter queue."
  value       = module.queue.dead_letter_queue_url
}

output "jobs_table_name" {
  description = "The jobs table (STK_JOBS_TABLE)."
  value       = module.jobs_table.table_name
}

output "secret_arns" {
  description = "ARNs of the three secrets (smashrun, supabase, token_key). Their values are set with aws secretsmanager put-secret-value."
  value       = module.secrets.arns
}

output "secret_names" {
  description = "Names of the three secrets."
  value       = module.secrets.names
}

output "function_names" {
  description = "The four Lambda functions."
  value = {
    api       = module.api.function_name
    auth      = module.api.auth_function_name
    worker    = module.worker.function_name
    scheduler = module.scheduler.function_name
  }
}

output "log_group_names" {
  description = "Where to read the logs."
  value = {
    api        = module.api.function_log_group_name
    api_access = module.api.access_log_group_name
    auth       = module.api.auth_function_log_group_name
    worker     = module.worker.function_log_group_name
    scheduler  = module.scheduler.function_log_group_name
  }
}

output "kms_key_arn" {
  description = "The project's customer managed key (null when create_kms_key is false)."
  value       = local.kms_key_arn
}

output "alarm_names" {
  description = "The CloudWatch alarms."
  value       = module.alarms.alarm_names
}

output "region" {
  description = "The region of every resource."
  value       = var.region
}
