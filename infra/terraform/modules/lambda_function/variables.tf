variable "function_name" {
  description = "Name of the Lambda function (also names its role and log group)."
  type        = string
}

variable "description" {
  description = "Function description."
  type        = string
  default     = ""
}

variable "zip_path" {
  description = "Path of the bootstrap.zip built by `cargo lambda build --release --output-format zip`."
  type        = string
}

variable "architecture" {
  description = "Instruction set: x86_64 or arm64 (must match the target the zip was built for)."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "memory_size" {
  description = "Memory in MB (CPU scales with it)."
  type        = number
}

variable "timeout" {
  description = "Timeout in seconds."
  type        = number
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions; null leaves the function on the unreserved pool."
  type        = number
  default     = null
}

variable "environment" {
  description = "Environment variables: names and URLs only, never secret values."
  type        = map(string)
  default     = {}
}

variable "policy_statements" {
  description = "Extra IAM statements for the execution role (logs, X-Ray and KMS are added here)."
  type = list(object({
    sid       = string
    actions   = list(string)
    resources = list(string)
    # Optional IAM conditions, e.g. dynamodb:LeadingKeys to limit a function to its own items.
    conditions = optional(list(object({
      test     = string
      variable = string
      values   = list(string)
    })), [])
  }))
  default = []
}

variable "log_retention_days" {
  description = "Retention of the function's log group."
  type        = number
}

variable "kms_key_arn" {
  description = "Customer managed KMS key for the log group and the environment variables; null uses AWS managed encryption."
  type        = string
  default     = null
}

variable "tracing_enabled" {
  description = "X-Ray active tracing."
  type        = bool
  default     = false
}
