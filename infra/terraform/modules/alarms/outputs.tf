output "alarm_names" {
  description = "Names of the alarms."
  value = [
    aws_cloudwatch_metric_alarm.dead_letter_messages.alarm_name,
    aws_cloudwatch_metric_alarm.worker_errors.alarm_name,
    aws_cloudwatch_metric_alarm.scheduler_errors.alarm_name,
    aws_cloudwatch_metric_alarm.api_5xx.alarm_name,
  ]
}
