variable "table_name" {
  description = "Name of the jobs table."
  type        = string
}

variable "by_user_index_name" {
  description = "Name of the global secondary index listing a user's jobs (user_id, created_ms)."
  type        = string
}

variable "deletion_protection" {
  description = "DynamoDB deletion protection: the table cannot be deleted (by Terraform or anyone) while on."
  type        = bool
  default     = true
}

variable "kms_key_arn" {
  description = "Customer managed KMS key; null uses the AWS managed key (aws/dynamodb)."
  type        = string
  default     = null
}
