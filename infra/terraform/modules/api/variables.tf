variable "name" {
  description = "Name of the REST API; also the API function's name."
  type        = string
}

variable "stage_name" {
  description = "API Gateway stage (also the first path segment of the default invoke URL)."
  type        = string
}

# --- the function ---------------------------------------------------------------------------

variable "zip_path" {
  description = "The stk-api bootstrap.zip."
  type        = string
}

variable "architecture" {
  description = "x86_64 or arm64."
  type        = string
}

variable "memory_size" {
  description = "Memory of the API function, MB."
  type        = number
}

variable "timeout" {
  description = "Timeout of the API function, seconds (API Gateway's integration timeout is 29 s)."
  type        = number
}

variable "reserved_concurrency" {
  description = "Reserved concurrency of the API function (null: none)."
  type        = number
  default     = null
}

variable "environment" {
  description = "Environment variables of the API function (names and URLs only)."
  type        = map(string)
}

variable "jobs_table_arn" {
  description = "The jobs table."
  type        = string
}

variable "jobs_by_user_index_arn" {
  description = "The jobs table's by_user index."
  type        = string
}

variable "queue_arn" {
  description = "The sync-jobs queue."
  type        = string
}

variable "supabase_secret_arn" {
  description = "The Supabase secret: the only one the API function may read."
  type        = string
}

variable "smashrun_secret_arn" {
  description = "The SmashRun client secret (with the registered redirect URI): read by the auth function only."
  type        = string
}

variable "token_key_secret_arn" {
  description = "The token encryption key: read by the auth function only."
  type        = string
}

variable "auth_zip_path" {
  description = "The auth function's zip (cargo lambda build --output-format zip)."
  type        = string
}

variable "auth_reserved_concurrency" {
  description = "Reserved concurrency of the auth function (null: none)."
  type        = number
  default     = null
}

variable "log_retention_days" {
  description = "Retention of the function's log group and of the API's access and execution logs."
  type        = number
}

variable "kms_key_arn" {
  description = "Customer managed KMS key (logs, environment, data); null: AWS managed encryption."
  type        = string
  default     = null
}

variable "tracing_enabled" {
  description = "X-Ray tracing on the stage and the function."
  type        = bool
  default     = false
}

# --- the API ----------------------------------------------------------------------------------

variable "throttling_rate_limit" {
  description = "Steady-state requests per second allowed on every method of the stage."
  type        = number
}

variable "throttling_burst_limit" {
  description = "Burst of requests allowed on every method of the stage."
  type        = number
}

variable "execution_logging_level" {
  description = "API Gateway execution logging: OFF, ERROR or INFO (request and response bodies are never logged)."
  type        = string
  default     = "ERROR"

  validation {
    condition     = contains(["OFF", "ERROR", "INFO"], var.execution_logging_level)
    error_message = "execution_logging_level must be OFF, ERROR or INFO."
  }
}

variable "manage_account_settings" {
  description = "Set the account-level CloudWatch role of API Gateway (one per account and region; needed for access and execution logs). Turn off if another stack already manages it."
  type        = bool
  default     = true
}

# --- the custom domain ------------------------------------------------------------------------

variable "custom_domain_enabled" {
  description = "Create the custom domain, its ACM certificate and the base path mapping."
  type        = bool
  default     = false
}

variable "custom_domain_name" {
  description = "The custom domain name, e.g. api.myrunstreak.com."
  type        = string
  default     = null
}

variable "route53_zone_id" {
  description = "Route 53 hosted zone of the domain: when set, the certificate's validation records and an alias A record are created there; when null, both are added by hand (docs/deploy.md)."
  type        = string
  default     = null
}
