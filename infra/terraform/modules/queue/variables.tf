variable "queue_name" {
  description = "Name of the sync-jobs queue."
  type        = string
}

variable "dead_letter_queue_name" {
  description = "Name of its dead-letter queue."
  type        = string
}

variable "max_receive_count" {
  description = "Receives before a message moves to the dead-letter queue (redrive maxReceiveCount)."
  type        = number
}

variable "visibility_timeout_seconds" {
  description = "Visibility timeout of the main queue: at least 6 x the worker's timeout (AWS guidance for Lambda event sources)."
  type        = number

  validation {
    condition     = var.visibility_timeout_seconds >= 0 && var.visibility_timeout_seconds <= 43200
    error_message = "SQS allows a visibility timeout of 0 to 43200 seconds."
  }
}

variable "message_retention_seconds" {
  description = "Retention of the main queue (4 days by default, the SQS default)."
  type        = number
  default     = 345600
}

variable "dead_letter_retention_seconds" {
  description = "Retention of the dead-letter queue (14 days, the SQS maximum)."
  type        = number
  default     = 1209600
}

variable "kms_key_arn" {
  description = "Customer managed KMS key for SSE-KMS; null uses SQS-managed SSE (SSE-SQS)."
  type        = string
  default     = null
}
