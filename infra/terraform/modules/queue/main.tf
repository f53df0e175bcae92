# The sync-jobs queue and its dead-letter queue, the same shapes the local stack creates
# (dev/local/src/provision.rs): redrive after max_receive_count receives, DLQ kept 14 days,
# server-side encryption on both.

locals {
  # SSE-SQS when no CMK is given, SSE-KMS otherwise (the two are mutually exclusive).
  sqs_managed_sse = var.kms_key_arn == null ? true : null
  data_key_reuse  = var.kms_key_arn == null ? null : 300
}

resource "aws_sqs_queue" "dead_letter" {
  name                              = var.dead_letter_queue_name
  message_retention_seconds         = var.dead_letter_retention_seconds
  sqs_managed_sse_enabled           = local.sqs_managed_sse
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = local.data_key_reuse
}

resource "aws_sqs_queue" "main" {
  name                              = var.queue_name
  visibility_timeout_seconds        = var.visibility_timeout_seconds
  message_retention_seconds         = var.message_retention_seconds
  receive_wait_time_seconds         = 20
  sqs_managed_sse_enabled           = local.sqs_managed_sse
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = local.data_key_reuse

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dead_letter.arn
    maxReceiveCount     = var.max_receive_count
  })
}

# Only the sync-jobs queue may use the DLQ as its dead-letter target. A separate resource, because
# the DLQ cannot name the main queue's ARN in its own definition (the main queue names the DLQ).
resource "aws_sqs_queue_redrive_allow_policy" "dead_letter" {
  queue_url = aws_sqs_queue.dead_letter.id

  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.main.arn]
  })
}

# Refuse any request that does not come over TLS. Access itself is granted by the functions' IAM
# roles (same account), so the queue policies allow nothing.
data "aws_iam_policy_document" "tls_only" {
  for_each = {
    main        = aws_sqs_queue.main.arn
    dead_letter = aws_sqs_queue.dead_letter.arn
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [each.value]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sqs_queue_policy" "main" {
  queue_url = aws_sqs_queue.main.id
  policy    = data.aws_iam_policy_document.tls_only["main"].json
}

resource "aws_sqs_queue_policy" "dead_letter" {
  queue_url = aws_sqs_queue.dead_letter.id
  policy    = data.aws_iam_policy_document.tls_only["dead_letter"].json
}
