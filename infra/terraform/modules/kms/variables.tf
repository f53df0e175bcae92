variable "alias_name" {
  description = "Alias of the key, without the alias/ prefix."
  type        = string
}

variable "deletion_window_in_days" {
  description = "Waiting period before a scheduled key deletion (7 to 30). Deleting the key makes the secrets, the queue's messages, the table and the logs unreadable."
  type        = number
  default     = 30
}
