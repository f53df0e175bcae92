# The dev environment: the whole MyRunStreak backend in one region.
#
# Resource names come from infra/names.json, the single source of truth shared with the Rust code
# (lambdas/adapters/src/config.rs checks the same file) and the local stack: never repeat them here.

locals {
  repo_root = "${path.module}/../../../.."
  names     = jsondecode(file("${path.module}/../../../names.json"))

  prefix = var.name_prefix
  # Names of the project's own resources that names.json does not list.
  base = "${local.prefix}${var.project}"

  jobs_table_name        = "${local.prefix}${local.names.jobs_table}"
  queue_name             = "${local.prefix}${local.names.queue}"
  dead_letter_queue_name = "${local.prefix}${local.names.dead_letter_queue}"
  secret_names = {
    smashrun  = "${local.prefix}${local.names.smashrun_secret}"
    supabase  = "${local.prefix}${local.names.supabase_secret}"
    token_key = "${local.prefix}${local.names.token_key_secret}"
  }

  zip_paths = {
    for k, p in var.lambda_zip_paths : k => startswith(p, "/") ? p : "${local.repo_root}/${p}"
  }

  kms_key_arn = var.create_kms_key ? module.kms[0].key_arn : null

  tags = merge(var.tags, {
    Project     = var.project
    Environment = var.environment
    ManagedBy   = "terraform"
  })

  # What every function reads (lambdas/adapters/src/config.rs): names and URLs only. Every
  # credential is read from Secrets Manager at run time.
  function_environment = {
    STK_QUEUE_URL           = module.queue.queue_url
    STK_JOBS_TABLE          = module.jobs_table.table_name
    STK_SMASHRUN_SECRET_ID  = module.secrets.names.smashrun
    STK_SUPABASE_SECRET_ID  = module.secrets.names.supabase
    STK_TOKEN_KEY_SECRET_ID = module.secrets.names.token_key
    STK_SMASHRUN_API_URL    = var.smashrun_api_url
    STK_SMASHRUN_AUTH_URL   = var.smashrun_auth_url
    STK_NIGHTLY_SPREAD_SECS = tostring(var.nightly_spread_seconds)
    RUST_LOG                = var.rust_log
  }
  worker_environment = merge(local.function_environment, {
    STK_DEAD_LETTER_QUEUE      = module.queue.dead_letter_queue_name
    STK_SMASHRUN_HOURLY_BUDGET = tostring(var.smashrun_hourly_budget)
  })
}

module "kms" {
  source = "../../modules/kms"
  count  = var.create_kms_key ? 1 : 0

  alias_name = local.base
}

module "jobs_table" {
  source = "../../modules/jobs_table"

  table_name          = local.jobs_table_name
  by_user_index_name  = local.names.jobs_by_user_index
  deletion_protection = var.jobs_table_deletion_protection
  kms_key_arn         = local.kms_key_arn
}

module "queue" {
  source = "../../modules/queue"

  queue_name             = local.queue_name
  dead_letter_queue_name = local.dead_letter_queue_name
  max_receive_count      = local.names.max_receive_count
  # AWS guidance for SQS event sources: at least 6 x the function's timeout, so a batch that is
  # retried inside the function is not delivered again meanwhile.
  visibility_timeout_seconds = 6 * var.worker_timeout_seconds
  kms_key_arn                = local.kms_key_arn
}

module "secrets" {
  source = "../../modules/secrets"

  secret_names            = local.secret_names
  recovery_window_in_days = var.secret_recovery_window_days
  kms_key_arn             = local.kms_key_arn
}

module "api" {
  source = "../../modules/api"

  name       = "${local.base}-api"
  stage_name = var.environment

  zip_path             = local.zip_paths.api
  architecture         = var.lambda_architecture
  memory_size          = var.api_memory_mb
  timeout              = var.api_timeout_seconds
  reserved_concurrency = var.reserved_concurrency.api
  environment = merge(local.function_environment, {
    # REST API events carry the stage in the path (/dev/sync); the router knows /sync.
    AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH = "true"
  })

  jobs_table_arn         = module.jobs_table.table_arn
  jobs_by_user_index_arn = module.jobs_table.by_user_index_arn
  queue_arn              = module.queue.queue_arn
  supabase_secret_arn    = module.secrets.arns.supabase
  smashrun_secret_arn    = module.secrets.arns.smashrun
  token_key_secret_arn   = module.secrets.arns.token_key

  auth_zip_path             = local.zip_paths.auth
  auth_reserved_concurrency = var.reserved_concurrency.auth

  log_retention_days = var.log_retention_days
  kms_key_arn        = local.kms_key_arn
  tracing_enabled    = var.xray_tracing_enabled

  throttling_rate_limit   = var.api_throttling_rate_limit
  throttling_burst_limit  = var.api_throttling_burst_limit
  execution_logging_level = var.api_execution_logging_level
  manage_account_settings = var.manage_api_gateway_account

  custom_domain_enabled = var.create_custom_domain
  custom_domain_name    = var.custom_domain_name
  route53_zone_id       = var.route53_zone_id
}

module "worker" {
  source = "../../modules/worker"

  name                 = "${local.base}-worker"
  zip_path             = local.zip_paths.worker
  architecture         = var.lambda_architecture
  memory_size          = var.worker_memory_mb
  timeout              = var.worker_timeout_seconds
  reserved_concurrency = var.reserved_concurrency.worker
  environment          = local.worker_environment

  jobs_table_arn        = module.jobs_table.table_arn
  queue_arn             = module.queue.queue_arn
  dead_letter_queue_arn = module.queue.dead_letter_queue_arn
  secret_arns           = values(module.secrets.arns)

  log_retention_days = var.log_retention_days
  kms_key_arn        = local.kms_key_arn
  tracing_enabled    = var.xray_tracing_enabled

  batch_size                         = var.worker_batch_size
  maximum_batching_window_in_seconds = var.worker_batching_window_seconds
  maximum_concurrency                = var.worker_max_concurrency
}

module "scheduler" {
  source = "../../modules/scheduler"

  name                 = "${local.base}-scheduler"
  zip_path             = local.zip_paths.scheduler
  architecture         = var.lambda_architecture
  memory_size          = var.scheduler_memory_mb
  timeout              = var.scheduler_timeout_seconds
  reserved_concurrency = var.reserved_concurrency.scheduler
  environment          = local.function_environment

  queue_arn = module.queue.queue_arn
  # The scheduler lists linked users in Supabase and sends messages; it never reads tokens,
  # talks to SmashRun or writes jobs (workers create them: docs/adr/0007).
  secret_arns = [module.secrets.arns.supabase]

  log_retention_days = var.log_retention_days
  kms_key_arn        = local.kms_key_arn
  tracing_enabled    = var.xray_tracing_enabled

  schedule_expression = var.nightly_schedule_expression
}

module "alarms" {
  source = "../../modules/alarms"

  name_prefix                  = local.base
  queue_name                   = module.queue.queue_name
  dead_letter_queue_name       = module.queue.dead_letter_queue_name
  worker_function_name         = module.worker.function_name
  scheduler_function_name      = module.scheduler.function_name
  api_function_name            = module.api.function_name
  auth_function_name           = module.api.auth_function_name
  api_name                     = module.api.rest_api_name
  api_stage_name               = module.api.stage_name
  schedule_rule_name           = module.scheduler.rule_name
  alarm_topic_arn              = var.alarm_sns_topic_arn
  alarm_email                  = var.alarm_email
  kms_key_arn                  = local.kms_key_arn
  oldest_message_alarm_seconds = var.oldest_message_alarm_seconds
}
