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
