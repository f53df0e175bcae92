# One Lambda function on the provided.al2023 runtime (a Rust `bootstrap` binary), with its own
# log group and its own execution role. The role gets exactly the statements the caller passes,
# plus writing to this function's log group, plus X-Ray and KMS when those are enabled.

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_338:Operational logs only; retention is var.log_retention_days (30 days by default), there is no requirement to keep a year of them.
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

data "aws_iam_policy_document" "assume" {
  statement {
    sid     = "LambdaAssumeRole"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = "${var.function_name}-role"
  description        = "Execution role of the ${var.function_name} Lambda function."
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

data "aws_iam_policy_document" "this" {
  # Only this function's own log group, which Terraform creates (so no logs:CreateLogGroup).
  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  dynamic "statement" {
    for_each = var.policy_statements
    content {
      sid       = statement.value.sid
      actions   = statement.value.actions
      resources = statement.value.resources

      dynamic "condition" {
        for_each = statement.value.conditions
        content {
          test     = condition.value.test
          variable = condition.value.variable
          values   = condition.value.values
        }
      }
    }
  }

  dynamic "statement" {
    for_each = var.tracing_enabled ? [1] : []
    content {
      sid = "XRayWrite"
      # X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level permissions:
      # AWS requires "*" here (it is what AWSXRayDaemonWriteAccess grants).
      actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
      resources = ["*"]
    }
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid = "UseProjectKey"
      # Reading and writing the CMK-encrypted queue, table and secrets. DescribeKey: DynamoDB
      # checks a CMK-encrypted table's key with the caller's identity.
      actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "${var.function_name}-least-privilege"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_117:No VPC needed: the function calls only public AWS endpoints, SmashRun and Supabase over HTTPS; a VPC would add NAT gateway cost and cold-start latency for nothing.
  #checkov:skip=CKV_AWS_272:Code signing is not used: the zips are built from the repository by cargo-lambda and deployed by the same Terraform run.
  #checkov:skip=CKV_AWS_116:No Lambda DLQ: the API is invoked synchronously, the worker's failures are redriven by its SQS queue to the queue's own DLQ, and the scheduler's nightly event carries no payload worth keeping (the next night's run does the same work; its Errors alarm reports a failure).
  function_name = var.function_name
  description   = var.description
  role          = aws_iam_role.this.arn

  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = [var.architecture]
  filename         = var.zip_path
  source_code_hash = filebase64sha256(var.zip_path)

  memory_size                    = var.memory_size
  timeout                        = var.timeout
  reserved_concurrent_executions = var.reserved_concurrency == null ? -1 : var.reserved_concurrency
  kms_key_arn                    = var.kms_key_arn

  environment {
    variables = var.environment
  }

  tracing_config {
    mode = var.tracing_enabled ? "Active" : "PassThrough"
  }

  logging_config {
    # The Rust functions already write one JSON object per line (tracing-subscriber's json format).
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.this.name
  }

  # The role must be able to write logs (and, for the worker, read the queue) before the function
  # or its event source mapping is created.
  depends_on = [aws_iam_role_policy.this]
}
