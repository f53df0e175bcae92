variable "name_prefix" {
  description = "Prefix of the alarm names."
  type        = string
}

variable "dead_letter_queue_name" {
  description = "The dead-letter queue."
  type        = string
}

variable "worker_function_name" {
  description = "The worker function."
  type        = string
}

variable "scheduler_function_name" {
  description = "The scheduler function."
  type        = string
}

variable "api_name" {
  description = "The REST API's name (ApiName dimension)."
  type        = string
}

variable "api_stage_name" {
  description = "The stage (Stage dimension)."
  type        = string
}

variable "alarm_topic_arn" {
  description = "SNS topic notified on ALARM and OK; null: the alarms only show in the console."
  type        = string
  default     = null
}

variable "period_seconds" {
  description = "Evaluation period of the alarms."
  type        = number
  default     = 300
}

variable "queue_name" {
  description = "The sync-jobs queue (oldest message age)."
  type        = string
}

variable "api_function_name" {
  description = "The API function (errors and throttles)."
  type        = string
}

variable "auth_function_name" {
  description = "The auth function (errors and throttles)."
  type        = string
}

variable "schedule_rule_name" {
  description = "The nightly EventBridge rule: an alarm when it did not invoke its target in a day."
  type        = string
}

variable "alarm_email" {
  description = "Address subscribed to the topic this module creates when alarm_topic_arn is null; null: none."
  type        = string
  default     = null
}

variable "kms_key_arn" {
  description = "KMS key for the topic this module creates (null: the AWS managed key for SNS)."
  type        = string
  default     = null
}

variable "oldest_message_alarm_seconds" {
  description = "Alarm when the oldest sync message is older than this."
  type        = number
  default     = 3600
}
