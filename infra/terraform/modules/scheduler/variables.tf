variable "name" {
  description = "Name of the scheduler function (also names its EventBridge rule)."
  type        = string
}

variable "zip_path" {
  description = "The stk-scheduler bootstrap.zip."
  type        = string
}

variable "architecture" {
  description = "x86_64 or arm64."
  type        = string
}

variable "memory_size" {
  description = "Memory of the scheduler, MB."
  type        = number
}

variable "timeout" {
  description = "Timeout of the scheduler, seconds."
  type        = number
}

variable "reserved_concurrency" {
  description = "Reserved concurrency of the scheduler (null: none)."
  type        = number
  default     = null
}

variable "environment" {
  description = "Environment variables of the scheduler (names and URLs only)."
  type        = map(string)
}

variable "queue_arn" {
  description = "The sync-jobs queue the scheduler sends nightly chunks to."
  type        = string
}

variable "secret_arns" {
  description = "The secrets the scheduler reads."
  type        = list(string)
}

variable "log_retention_days" {
  description = "Retention of the scheduler's log group."
  type        = number
}

variable "kms_key_arn" {
  description = "Customer managed KMS key; null: AWS managed encryption."
  type        = string
  default     = null
}

variable "tracing_enabled" {
  description = "X-Ray active tracing."
  type        = bool
  default     = false
}

variable "schedule_expression" {
  description = "EventBridge schedule of the nightly run, in UTC, e.g. cron(0 6 * * ? *)."
  type        = string
}
