# One customer managed key for the project's data at rest: the secrets, both queues, the jobs
# table, the functions' environment variables and the log groups. Principals of this account use it
# through IAM policies (the functions' roles are granted kms:Decrypt and kms:GenerateDataKey on this
# key only); CloudWatch Logs, which encrypts with its own service principal, is allowed for this
# account's and region's log groups only, and CloudWatch alarms for this account's alarm topic.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition
}

data "aws_iam_policy_document" "key" {
  #checkov:skip=CKV_AWS_111:This is a KMS key policy: "*" as its resource means this key only, and KMS accepts nothing else there.
  #checkov:skip=CKV_AWS_356:This is a KMS key policy: "*" as its resource means this key only, and KMS accepts nothing else there.
  #checkov:skip=CKV_AWS_109:This is a KMS key policy: the account-root statement is the AWS default key policy that lets IAM policies grant use of the key; without it the key becomes unmanageable.
  # The default key policy: lets IAM policies in this account grant use of the key. Without it
  # the key could become unmanageable. In a key policy, "*" as the resource means this key.
  statement {
    sid       = "EnableIamPoliciesOfThisAccount"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid = "AllowCloudWatchLogsOfThisAccount"
    actions = [
      "kms:Encrypt*",
      "kms:Decrypt*",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
      "kms:Describe*",
    ]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*"]
    }
  }

  # CloudWatch alarms publish to the encrypted alarm topic: they need the data key, for this
  # account's alarms only.
  statement {
    sid       = "AllowCloudWatchAlarmsOfThisAccount"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_kms_key" "this" {
  description             = "MyRunStreak data at rest (${var.alias_name}): secrets, queues, jobs table, Lambda environment, logs."
  enable_key_rotation     = true
  deletion_window_in_days = var.deletion_window_in_days
  policy                  = data.aws_iam_policy_document.key.json
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.alias_name}"
  target_key_id = aws_kms_key.this.key_id
}
