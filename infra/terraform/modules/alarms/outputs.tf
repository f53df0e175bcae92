output "alarm_names" {
  description = "Names of the alarms."
  value = concat(
    [
      aws_cloudwatch_metric_alarm.dead_letter_messages.alarm_name,
      aws_cloudwatch_metric_alarm.oldest_message.alarm_name,
      aws_cloudwatch_metric_alarm.api_5xx.alarm_name,
      aws_cloudwatch_metric_alarm.schedule_did_not_run.alarm_name,
    ],
    [for a in aws_cloudwatch_metric_alarm.throttles : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.function_errors : a.alarm_name],
  )
}

output "topic_arn" {
  description = "The SNS topic the alarms notify."
  value       = local.topic_arn
}
