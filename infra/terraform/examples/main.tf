# Two scheduled jobs on a shared base: what examples/sjob.toml-style configs
# deploy with `sjob deploy`, built with Terraform instead.

terraform {
  required_version = ">= 1.3"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }
}

provider "aws" {
  region = var.region
}

locals {
  app_name               = "myapp"
  stage                  = "dev"
  undelivered_runs_queue = "myapp-dev-undelivered-runs"
}

module "job_base" {
  source              = "../modules/job_base"
  app_name            = local.app_name
  stage               = local.stage
  success_handler_zip = var.success_handler_zip
  error_handler_zip   = var.error_handler_zip
  create_batch        = true
  subnet_ids          = var.subnet_ids
  security_group_ids  = var.security_group_ids
  subscriptions       = [for address in var.notify_emails : { protocol = "email", endpoint = address }]
}

module "crawler_job" {
  source                 = "../modules/scheduled_job"
  app_name               = local.app_name
  stage                  = local.stage
  batch_name             = "crawler"
  env                    = { STAGE = local.stage, DB_NAME = local.stage }
  batch_job_queue_arn    = module.job_base.job_queue_arn
  image_uri              = var.image_uri
  image_tag              = "latest"
  command                = ["python", "/opt/app/job/crawler.py"]
  success_handler_arn    = module.job_base.success_handler.arn
  error_handler_arn      = module.job_base.error_handler.arn
  notification_topic_arn = module.job_base.sns_topic_arn
  vcpus                  = "1"
  memory                 = "2048"
  schedule_expression    = "rate(5 minutes)"
  sfn_input              = { message = "hello" }
  # A crawl still going when the next one is due: the next one is skipped.
  overlap        = "skip"
  notify_on_skip = true
}

module "report_job" {
  source                 = "../modules/scheduled_job"
  app_name               = local.app_name
  stage                  = local.stage
  batch_name             = "report"
  batch_job_queue_arn    = module.job_base.job_queue_arn
  image_uri              = var.image_uri
  command                = ["python", "/opt/app/job/report.py"]
  success_handler_arn    = module.job_base.success_handler.arn
  error_handler_arn      = module.job_base.error_handler.arn
  notification_topic_arn = module.job_base.sns_topic_arn
  vcpus                  = "0.5"
  memory                 = "1024"
  schedule_expression    = "cron(0 3 * * ? *)"
  timeout_seconds        = 3600
  run_timeout_seconds    = 10800
  # One child per region the report covers; AWS_BATCH_JOB_ARRAY_INDEX picks it.
  array_size     = 4
  retry_attempts = 2
  # Told when no report succeeded for a day and two hours.
  expect_success_within = "26h"
  # A container image that cannot be pulled will not pull on a retry either.
  retry_on = [
    { reason = "CannotPullContainerError*", action = "exit" },
    { exit_code = "*", action = "retry" },
  ]
  cpu_architecture      = "arm64"
  ephemeral_storage_gib = 30
  # Runs the scheduler could not start land here instead of being dropped.
  # Built from the queue's name: whether the module creates the scheduler's
  # dead-letter policy must be known when Terraform plans, and a new queue's
  # `arn` attribute is not.
  schedule_retry           = { maximum_retry_attempts = 3 }
  schedule_dead_letter_arn = "arn:${data.aws_partition.current.partition}:sqs:${var.region}:${data.aws_caller_identity.current.account_id}:${local.undelivered_runs_queue}"
  tags                     = { team = "data" }
  task_policy_statements = [{
    Effect   = "Allow"
    Action   = ["sns:Publish"]
    Resource = [module.job_base.sns_topic_arn]
  }]
}

data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

resource "aws_sqs_queue" "undelivered_runs" {
  name                      = local.undelivered_runs_queue
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
}
