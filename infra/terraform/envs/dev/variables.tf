# --- where and what ---------------------------------------------------------------------------

variable "region" {
  description = "AWS region of every resource, the custom domain's ACM certificate included (REGIONAL endpoint)."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must look like us-east-1 or eu-west-3."
  }
}

variable "project" {
  description = "Project name: names the functions, the API, the alarms and the KMS alias (the table, queues and secrets are named by infra/names.json)."
  type        = string
  default     = "myrunstreak"
}

variable "environment" {
  description = "Environment name: the API Gateway stage and the Environment tag."
  type        = string
  default     = "dev"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.environment))
    error_message = "environment must be 1 to 64 letters, digits, '-' or '_' (it is the API stage name)."
  }
}

variable "name_prefix" {
  description = "Prefix for every resource name, those from infra/names.json included, e.g. \"staging-\" to run a second environment in the same account. Empty by default: the names are exactly those of names.json (the code's defaults)."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]*$", var.name_prefix))
    error_message = "name_prefix may hold letters, digits, '-' and '_' only."
  }
}

variable "tags" {
  description = "Extra tags for every resource (Project, Environment and ManagedBy are always set)."
  type        = map(string)
  default     = {}
}

# --- the functions ----------------------------------------------------------------------------

variable "lambda_architecture" {
  description = "Instruction set of the three functions: x86_64 (what `make package` builds) or arm64 (build with `STK_LAMBDA_ARCH=arm64 make package`)."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.lambda_architecture)
    error_message = "lambda_architecture must be x86_64 or arm64."
  }
}

variable "lambda_zip_paths" {
  description = "The zips of `cargo lambda build --release --output-format zip`, relative to the repository root (or absolute)."
  type = object({
    api       = string
    auth      = string
    worker    = string
    scheduler = string
  })
  default = {
    api       = "target/lambda/stk-api/bootstrap.zip"
    auth      = "target/lambda/stk-auth/bootstrap.zip"
    worker    = "target/lambda/stk-worker/bootstrap.zip"
    scheduler = "target/lambda/stk-scheduler/bootstrap.zip"
  }
}

variable "api_memory_mb" {
  description = "Memory of the API function, MB."
  type        = number
  default     = 256

  validation {
    condition     = var.api_memory_mb >= 128 && var.api_memory_mb <= 10240
    error_message = "Lambda memory is 128 to 10240 MB."
  }
}

variable "worker_memory_mb" {
  description = "Memory of the worker function, MB (CPU scales with memory; the worker parses and upserts pages of 100 activities)."
  type        = number
  default     = 512

  validation {
    condition     = var.worker_memory_mb >= 128 && var.worker_memory_mb <= 10240
    error_message = "Lambda memory is 128 to 10240 MB."
  }
}

variable "scheduler_memory_mb" {
  description = "Memory of the scheduler function, MB."
  type        = number
  default     = 256

  validation {
    condition     = var.scheduler_memory_mb >= 128 && var.scheduler_memory_mb <= 10240
    error_message = "Lambda memory is 128 to 10240 MB."
  }
}

variable "api_timeout_seconds" {
  description = "Timeout of the API function, seconds."
  type        = number
  default     = 15

  validation {
    condition     = var.api_timeout_seconds >= 1 && var.api_timeout_seconds <= 29
    error_message = "api_timeout_seconds must be 1 to 29: API Gateway gives up on an integration after 29 s."
  }
}

variable "worker_timeout_seconds" {
  description = "Timeout of the worker function, seconds. The queue's visibility timeout is 6 x this."
  type        = number
  default     = 300

  validation {
    condition     = var.worker_timeout_seconds >= 1 && var.worker_timeout_seconds <= 900
    error_message = "Lambda timeouts are 1 to 900 seconds."
  }
}

variable "scheduler_timeout_seconds" {
  description = "Timeout of the scheduler function, seconds."
  type        = number
  default     = 300

  validation {
    condition     = var.scheduler_timeout_seconds >= 1 && var.scheduler_timeout_seconds <= 900
    error_message = "Lambda timeouts are 1 to 900 seconds."
  }
}

variable "reserved_concurrency" {
  description = "Reserved concurrency per function (null: none). Accounts with the default quota of 10 cannot reserve any."
  type = object({
    api       = optional(number)
    auth      = optional(number)
    worker    = optional(number)
    scheduler = optional(number)
  })
  default = {}
}

variable "worker_batch_size" {
  description = "SQS messages per worker invocation."
  type        = number
  default     = 5

  validation {
    condition     = var.worker_batch_size >= 1 && var.worker_batch_size <= 10
    error_message = "worker_batch_size must be 1 to 10 (a sync can take minutes; keep batches small)."
  }
}

variable "worker_batching_window_seconds" {
  description = "How long the event source mapping may wait to fill a batch, seconds."
  type        = number
  default     = 1

  validation {
    condition     = var.worker_batching_window_seconds >= 0 && var.worker_batching_window_seconds <= 300
    error_message = "worker_batching_window_seconds must be 0 to 300."
  }
}

variable "worker_max_concurrency" {
  description = "Most concurrent worker invocations the queue may drive (2 to 1000; null: no cap). Caps the load on SmashRun and Supabase, and leaves room for the API: a new account has 10 concurrent executions in all, so the default takes at most 4."
  type        = number
  default     = 4

  validation {
    condition     = var.worker_max_concurrency == null || (coalesce(var.worker_max_concurrency, 2) >= 2 && coalesce(var.worker_max_concurrency, 2) <= 1000)
    error_message = "worker_max_concurrency must be null or 2 to 1000."
  }
}

variable "rust_log" {
  description = "RUST_LOG of the three functions."
  type        = string
  default     = "info"
}

variable "smashrun_api_url" {
  description = "SmashRun REST base (STK_SMASHRUN_API_URL)."
  type        = string
  default     = "https://api.smashrun.com/v1"
}

variable "smashrun_auth_url" {
  description = "SmashRun OAuth base (STK_SMASHRUN_AUTH_URL)."
  type        = string
  default     = "https://secure.smashrun.com"
}

# --- schedule, logs, tracing, encryption ------------------------------------------------------

variable "nightly_schedule_expression" {
  description = "When the scheduler runs (EventBridge, UTC)."
  type        = string
  default     = "cron(0 6 * * ? *)"

  validation {
    condition     = can(regex("^(cron|rate)\\(.+\\)$", var.nightly_schedule_expression))
    error_message = "nightly_schedule_expression must be an EventBridge cron(...) or rate(...) expression."
  }
}

variable "log_retention_days" {
  description = "Retention of every log group (functions, API access and execution logs)."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "xray_tracing_enabled" {
  description = "X-Ray tracing on the API stage and the three functions."
  type        = bool
  default     = false
}

variable "create_kms_key" {
  description = "Create one customer managed KMS key (about 1 USD a month) for the secrets, queues, table, function environments and log groups. Off: AWS managed encryption everywhere (SSE-SQS for the queues). Changing it later replaces encryption settings; see docs/deploy.md."
  type        = bool
  default     = true
}

variable "secret_recovery_window_days" {
  description = "Days a deleted secret stays restorable (0 or 7 to 30)."
  type        = number
  default     = 30
}

variable "jobs_table_deletion_protection" {
  description = "DynamoDB deletion protection on the jobs table (turn off, apply, then destroy)."
  type        = bool
  default     = true
}

# --- the API ----------------------------------------------------------------------------------

variable "api_throttling_rate_limit" {
  description = "Steady-state requests per second on every API method."
  type        = number
  default     = 10
}

variable "api_throttling_burst_limit" {
  description = "Burst of requests on every API method."
  type        = number
  default     = 20
}

variable "api_execution_logging_level" {
  description = "API Gateway execution logging: OFF, ERROR or INFO."
  type        = string
  default     = "ERROR"
}

variable "manage_api_gateway_account" {
  description = "Set API Gateway's account-level CloudWatch role (one per account and region). Turn off if another stack already sets it."
  type        = bool
  default     = true
}

variable "alarm_sns_topic_arn" {
  description = "An existing SNS topic for the alarms; null: the project creates its own topic (see alarm_email)."
  type        = string
  default     = null
}

variable "alarm_email" {
  description = "Address subscribed to the project's alarm topic (it must confirm the subscription); null: no subscription."
  type        = string
  default     = null
}

variable "nightly_spread_seconds" {
  description = "Window (0 to 900 s, SQS's longest delay) the nightly syncs are spread over: each user's sync starts at the same offset in it every night."
  type        = number
  default     = 900

  validation {
    condition     = var.nightly_spread_seconds >= 0 && var.nightly_spread_seconds <= 900
    error_message = "nightly_spread_seconds must be between 0 and 900."
  }
}

variable "oldest_message_alarm_seconds" {
  description = "Alarm when the oldest sync message has waited this long (jobs are not being worked)."
  type        = number
  default     = 3600
}

# --- the custom domain ------------------------------------------------------------------------

variable "create_custom_domain" {
  description = "Create the custom domain, its ACM certificate (in var.region) and the base path mapping."
  type        = bool
  default     = false
}

variable "custom_domain_name" {
  description = "The API's custom domain."
  type        = string
  default     = "api.myrunstreak.com"
}

variable "route53_zone_id" {
  description = "Route 53 hosted zone of the custom domain: when set, the certificate validation records and an alias A record are created in it. Null: add them at the DNS provider by hand."
  type        = string
  default     = null
}

variable "smashrun_hourly_budget" {
  description = "SmashRun requests one sync may make per hour before it waits (it paces itself rather than run into 429s)."
  type        = number
  default     = 250

  validation {
    condition     = var.smashrun_hourly_budget >= 3
    error_message = "smashrun_hourly_budget must be at least 3 (a page, a refresh and the listing)."
  }
}
