output "sns_topic_arn" {
  value = aws_sns_topic.notifications.arn
}

output "success_handler" {
  value = { arn = aws_lambda_function.handler["success"].arn, function_name = aws_lambda_function.handler["success"].function_name }
}

output "error_handler" {
  value = { arn = aws_lambda_function.handler["error"].arn, function_name = aws_lambda_function.handler["error"].function_name }
}

output "job_queue_arn" {
  value       = var.create_batch ? aws_batch_job_queue.jobs[0].arn : null
  description = "null unless create_batch."
}

output "handler_role_arn" {
  value = aws_iam_role.handler.arn
}
