variable "name" {
  description = "Name of the worker function."
  type        = string
}

variable "zip_path" {
  description = "The stk-worker bootstrap.zip."
  type        = string
}

variable "architecture" {
  description = "x86_64 or arm64."
  type        = string
}

variable "memory_size" {
  description = "Memory of the worker, MB."
  type        = number
}

variable "timeout" {
  description = "Timeout of the worker, seconds (the queue's visibility timeout is 6 x this)."
  type        = number
}

variable "reserved_concurrency" {
  description = "Reserved concurrency of the worker (null: none)."
  type        = number
  default     = null
}

variable "environment" {
  description = "Environment variables of the worker (names and URLs only)."
  type        = map(string)
}

variable "jobs_table_arn" {
  description = "The jobs table."
  type        = string
}

variable "queue_arn" {
  description = "The sync-jobs queue the worker consumes."
  type        = string
}

variable "dead_letter_queue_arn" {
  description = "ARN of the queue's dead-letter queue: the worker consumes it to fail the jobs that land there."
  type        = string
}

variable "secret_arns" {
  description = "The secrets the worker reads."
  type        = list(string)
}

variable "log_retention_days" {
  description = "Retention of the worker's log group."
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

variable "batch_size" {
  description = "Messages per invocation."
  type        = number
  default     = 5
}

variable "maximum_batching_window_in_seconds" {
  description = "How long the event source mapping may wait to fill a batch."
  type        = number
  default     = 1
}

variable "maximum_concurrency" {
  description = "Maximum concurrent invocations the queue may drive (2 to 1000; null: no cap)."
  type        = number
  default     = null
}
