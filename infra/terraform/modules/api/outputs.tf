output "rest_api_id" {
  description = "ID of the REST API."
  value       = aws_api_gateway_rest_api.this.id
}

output "rest_api_name" {
  description = "Name of the REST API (the ApiName metric dimension)."
  value       = aws_api_gateway_rest_api.this.name
}

output "stage_name" {
  description = "The stage."
  value       = aws_api_gateway_stage.this.stage_name
}

output "invoke_url" {
  description = "Default invoke URL of the stage (https://<id>.execute-api.<region>.amazonaws.com/<stage>)."
  value       = aws_api_gateway_stage.this.invoke_url
}

output "custom_domain_url" {
  description = "https://<custom domain> when the custom domain is enabled."
  value       = var.custom_domain_enabled ? "https://${var.custom_domain_name}" : null
}

output "custom_domain_target" {
  description = "Where the custom domain's DNS must point: an alias (A) to regional_domain_name in regional_zone_id, or a CNAME to regional_domain_name."
  value = var.custom_domain_enabled ? {
    regional_domain_name = aws_api_gateway_domain_name.this[0].regional_domain_name
    regional_zone_id     = aws_api_gateway_domain_name.this[0].regional_zone_id
  } : null
}

output "certificate_arn" {
  description = "ACM certificate of the custom domain (in the API's region)."
  value       = var.custom_domain_enabled ? aws_acm_certificate.this[0].arn : null
}

output "certificate_validation_records" {
  description = "DNS records that validate the certificate (created automatically when route53_zone_id is set)."
  value = [
    for dvo in flatten([for c in aws_acm_certificate.this : c.domain_validation_options]) : {
      name  = dvo.resource_record_name
      type  = dvo.resource_record_type
      value = dvo.resource_record_value
    }
  ]
}

output "access_log_group_name" {
  description = "CloudWatch log group of the access logs."
  value       = aws_cloudwatch_log_group.access.name
}

output "function_name" {
  description = "Name of the API function."
  value       = module.function.function_name
}

output "function_log_group_name" {
  description = "Log group of the API function."
  value       = module.function.log_group_name
}

output "role_name" {
  description = "Execution role of the API function."
  value       = module.function.role_name
}

output "auth_function_name" {
  description = "The auth function (login routes, /auth/*)."
  value       = module.auth_function.function_name
}

output "auth_function_log_group_name" {
  description = "Log group of the auth function."
  value       = module.auth_function.log_group_name
}
