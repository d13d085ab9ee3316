output "job_name" {
  value = local.job_name
}

output "state_machine_arn" {
  value = aws_sfn_state_machine.job.arn
}

output "job_definition_arn" {
  value = aws_batch_job_definition.job.arn
}

output "schedule_arn" {
  value = aws_scheduler_schedule.job.arn
}

output "log_group_name" {
  value = aws_cloudwatch_log_group.state_machine.name
}

output "task_role_arn" {
  value = aws_iam_role.role["EcsTaskRole"].arn
}

output "claim_table_name" {
  description = "The claim table of overlap = \"skip\", null otherwise."
  value       = one(aws_dynamodb_table.claim[*].name)
}
