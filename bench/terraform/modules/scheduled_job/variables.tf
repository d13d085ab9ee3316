# The seed module's inputs (see docs/benchmarks.md).
variable "account_id" { type = string }
variable "app_name" { type = string }
variable "stage" { type = string }
variable "batch_name" { type = string }
variable "env" { type = map(string) }
variable "batch_job_queue_arn" { type = string }
variable "image_uri" { type = string }
variable "image_tag" { type = string }
variable "command" { type = list(string) }
variable "success_handler_arn" { type = string }
variable "error_handler_arn" { type = string }
variable "vcpus" {
  type    = string
  default = "1"
}
variable "memory" {
  type    = string
  default = "2048"
}
variable "schedule_expression" { type = string }
variable "sfn_input" {
  type    = map(string)
  default = { message = "hello" }
}

locals {
  prefix   = "${var.app_name}-${var.stage}-${var.batch_name}-ScheduledJob"
  job_name = local.prefix
}

# Not the seed's: accepted so both modules take the same inputs from
# bench/terraform/main.tf (the infra module publishes its last resort there).
variable "notification_topic_arn" {
  type    = string
  default = null
}
