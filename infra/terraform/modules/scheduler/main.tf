# The nightly scheduler: an EventBridge rule invokes the function, which sends one message per
# hundred linked users; workers fan them out and create each user's job (docs/adr/0007).

module "function" {
  source = "../lambda_function"

  function_name        = var.name
  description          = "MyRunStreak nightly scheduler (a nightly sync for every linked user)"
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
      # SendMessageBatch is authorised by sqs:SendMessage.
      sid       = "EnqueueNightlySyncs"
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

resource "aws_cloudwatch_event_rule" "nightly" {
  name                = "${var.name}-nightly"
  description         = "Nightly MyRunStreak sync of every active user"
  schedule_expression = var.schedule_expression
}

resource "aws_cloudwatch_event_target" "scheduler" {
  rule      = aws_cloudwatch_event_rule.nightly.name
  target_id = "scheduler"
  arn       = module.function.function_arn

  retry_policy {
    maximum_retry_attempts       = 3
    maximum_event_age_in_seconds = 3600
  }
}

resource "aws_lambda_permission" "eventbridge" {
  statement_id  = "AllowEventBridgeInvoke"
  action        = "lambda:InvokeFunction"
  function_name = module.function.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.nightly.arn
}

# EventBridge invokes asynchronously: two retries by Lambda, and a run more than an hour late is
# dropped (the next night's run does the same work; the Errors alarm reports the failure).
resource "aws_lambda_function_event_invoke_config" "scheduler" {
  function_name                = module.function.function_name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 3600
}
