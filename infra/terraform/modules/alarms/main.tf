# What needs a human: a message in the dead-letter queue (a job that failed maxReceiveCount
# times), sync messages waiting too long, errors or throttles of any function, 5XX answers from
# the API stage, and a night on which the schedule did not run. Every alarm notifies one SNS
# topic: the one given, or one this module creates (with an optional e-mail subscription).

# Encrypted with the project key when there is one (its policy lets CloudWatch alarms use it):
# alarms cannot publish to a topic under the AWS managed SNS key, whose policy cannot grant them.
resource "aws_sns_topic" "alarms" {
  #checkov:skip=CKV_AWS_26:Without the project's KMS key (create_kms_key = false) the topic cannot be encrypted at all: CloudWatch alarms cannot use the AWS managed SNS key. With the key it is encrypted.
  count             = var.alarm_topic_arn == null ? 1 : 0
  name              = "${var.name_prefix}-alarms"
  kms_master_key_id = var.kms_key_arn
}

resource "aws_sns_topic_subscription" "email" {
  count     = var.alarm_topic_arn == null && var.alarm_email != null ? 1 : 0
  topic_arn = aws_sns_topic.alarms[0].arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

locals {
  topic_arn = var.alarm_topic_arn == null ? aws_sns_topic.alarms[0].arn : var.alarm_topic_arn
  actions   = [local.topic_arn]
  functions = {
    worker    = var.worker_function_name
    scheduler = var.scheduler_function_name
    api       = var.api_function_name
    auth      = var.auth_function_name
  }
  error_consequences = {
    scheduler = ": the nightly syncs may not have been queued"
  }
}

# The worker's and the scheduler's error alarms were resources of their own before.
moved {
  from = aws_cloudwatch_metric_alarm.worker_errors
  to   = aws_cloudwatch_metric_alarm.function_errors["worker"]
}

moved {
  from = aws_cloudwatch_metric_alarm.scheduler_errors
  to   = aws_cloudwatch_metric_alarm.function_errors["scheduler"]
}

resource "aws_cloudwatch_metric_alarm" "oldest_message" {
  alarm_name          = "${var.name_prefix}-sync-messages-waiting"
  alarm_description   = "The oldest message of ${var.queue_name} has waited over ${var.oldest_message_alarm_seconds} s: syncs are not being worked (see docs/runbook.md)."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = var.queue_name }
  statistic           = "Maximum"
  period              = var.period_seconds
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.oldest_message_alarm_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
}

resource "aws_cloudwatch_metric_alarm" "throttles" {
  for_each            = local.functions
  alarm_name          = "${var.name_prefix}-${each.key}-throttles"
  alarm_description   = "The ${each.key} function ${each.value} was throttled: its concurrency (or the account's) is exhausted."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = each.value }
  statistic           = "Sum"
  period              = var.period_seconds
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
}

resource "aws_cloudwatch_metric_alarm" "function_errors" {
  for_each            = local.functions
  alarm_name          = "${var.name_prefix}-${each.key}-errors"
  alarm_description   = "The ${each.key} function ${each.value} failed (an invocation error, not an error answer or a reported batch item failure)${lookup(local.error_consequences, each.key, "")}."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = each.value }
  statistic           = "Sum"
  period              = var.period_seconds
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
}

# A night without a run: the rule invoked its target less than once in 24 hours (missing data,
# no invocation at all, counts as breaching).
resource "aws_cloudwatch_metric_alarm" "schedule_did_not_run" {
  alarm_name          = "${var.name_prefix}-nightly-schedule-did-not-run"
  alarm_description   = "The nightly rule ${var.schedule_rule_name} did not invoke the scheduler in the last 24 hours: no nightly syncs were queued."
  namespace           = "AWS/Events"
  metric_name         = "Invocations"
  dimensions          = { RuleName = var.schedule_rule_name }
  statistic           = "Sum"
  period              = 86400
  evaluation_periods  = 1
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "breaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
}

resource "aws_cloudwatch_metric_alarm" "dead_letter_messages" {
  alarm_name        = "${var.name_prefix}-dlq-not-empty"
  alarm_description = "A sync job message reached the dead-letter queue ${var.dead_letter_queue_name}: see docs/runbook.md (dead-letter queue)."
  namespace         = "AWS/SQS"
  # The worker consumes the DLQ at once (it fails the message's job), so what is visible there
  # says little: every receive is a message that got there.
  metric_name         = "NumberOfMessagesReceived"
  dimensions          = { QueueName = var.dead_letter_queue_name }
  statistic           = "Sum"
  period              = var.period_seconds
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
}



resource "aws_cloudwatch_metric_alarm" "api_5xx" {
  alarm_name          = "${var.name_prefix}-api-5xx"
  alarm_description   = "The API ${var.api_name} (stage ${var.api_stage_name}) answered 5XX."
  namespace           = "AWS/ApiGateway"
  metric_name         = "5XXError"
  dimensions          = { ApiName = var.api_name, Stage = var.api_stage_name }
  statistic           = "Sum"
  period              = var.period_seconds
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
}
