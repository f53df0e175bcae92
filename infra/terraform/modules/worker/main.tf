# The worker: consumes the sync-jobs queue through an event source mapping and reports failed
# messages individually (ReportBatchItemFailures), so SQS redelivers only those; it hides each
# of those first for as long as its job waits (ChangeMessageVisibility). It also consumes the
# dead-letter queue, failing the jobs whose messages land there (docs/adr/0011).

module "function" {
  source = "../lambda_function"

  function_name        = var.name
  description          = "MyRunStreak sync worker (SQS -> SmashRun -> Supabase)"
  zip_path             = var.zip_path
  architecture         = var.architecture
  memory_size          = var.memory_size
  timeout              = var.timeout
  reserved_concurrency = var.reserved_concurrency
  environment          = var.environment
  log_retention_days   = var.log_retention_days
  kms_key_arn          = var.kms_key_arn
  tracing_enabled      = var.tracing_enabled

  policy_statements = [
    {
      # Claim (conditional update), progress, finish. Nightly jobs are created here like POST
      # /sync creates them: a TransactWriteItems of conditional Puts, authorised per item action
      # (PutItem). A finished job's slot is taken over, never deleted, so DeleteItem is not granted.
      sid       = "JobsTableItems"
      actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
      resources = [var.jobs_table_arn]
    },
    {
      # The event source mapping polls the queue with the function's own role.
      sid       = "ConsumeSyncJobs"
      actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"]
      resources = [var.queue_arn]
    },
    {
      # Fails the jobs of dead-lettered messages, then deletes them (an unreadable one stays).
      sid       = "ConsumeDeadLetters"
      actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"]
      resources = [var.dead_letter_queue_arn]
    },
    {
      # Splits a nightly chunk into one message per user (SendMessageBatch).
      sid       = "FanOutNightlySyncs"
      actions   = ["sqs:SendMessage"]
      resources = [var.queue_arn]
    },
    {
      sid       = "ReadSecrets"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = var.secret_arns
    },
  ]
}

resource "aws_lambda_event_source_mapping" "queue" {
  event_source_arn                   = var.queue_arn
  function_name                      = module.function.function_arn
  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = var.maximum_batching_window_in_seconds
  function_response_types            = ["ReportBatchItemFailures"]

  dynamic "scaling_config" {
    for_each = var.maximum_concurrency == null ? [] : [var.maximum_concurrency]
    content {
      maximum_concurrency = scaling_config.value
    }
  }
}

resource "aws_lambda_event_source_mapping" "dead_letters" {
  event_source_arn        = var.dead_letter_queue_arn
  function_name           = module.function.function_arn
  batch_size              = 10
  function_response_types = ["ReportBatchItemFailures"]

  scaling_config {
    # Dead letters are rare and cheap to handle: they never take more than two executions.
    maximum_concurrency = 2
  }
}
