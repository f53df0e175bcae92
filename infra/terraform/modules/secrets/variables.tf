variable "secret_names" {
  description = "Names of the three secrets, keyed smashrun, supabase, token_key."
  type = object({
    smashrun  = string
    supabase  = string
    token_key = string
  })
}

variable "recovery_window_in_days" {
  description = "Days a deleted secret can still be restored (0 deletes at once; otherwise 7 to 30)."
  type        = number
  default     = 30

  validation {
    condition     = var.recovery_window_in_days == 0 || (var.recovery_window_in_days >= 7 && var.recovery_window_in_days <= 30)
    error_message = "recovery_window_in_days must be 0 or between 7 and 30."
  }
}

variable "kms_key_arn" {
  description = "Customer managed KMS key; null uses the AWS managed key (aws/secretsmanager)."
  type        = string
  default     = null
}
