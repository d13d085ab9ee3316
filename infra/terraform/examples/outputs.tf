output "sns_topic_arn" {
  value = module.job_base.sns_topic_arn
}

output "job_queue_arn" {
  value = module.job_base.job_queue_arn
}

output "success_handler_arn" {
  value = module.job_base.success_handler.arn
}

output "error_handler_arn" {
  value = module.job_base.error_handler.arn
}

output "state_machine_arns" {
  value = { crawler = module.crawler_job.state_machine_arn, report = module.report_job.state_machine_arn }
}

output "undelivered_runs_queue_arn" {
  value = aws_sqs_queue.undelivered_runs.arn
}
