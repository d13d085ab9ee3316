# Root config for `bench/run.py`: one instance of a `scheduled_job` module per
# job in var.jobs, against the local emulator. Not for real AWS. bench/run.py
# puts the module under test at ./modules/scheduled_job: the seed's (a
# resource-for-resource equivalent, in modules/ here) or infra/terraform's.

terraform {
  required_version = ">= 1.3"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.100.0"
    }
  }
}

variable "endpoint" { type = string }
variable "region" { type = string }
variable "account_id" { type = string }
variable "app_name" { type = string }
variable "stage" { type = string }
variable "defaults" { type = any }
variable "jobs" { type = any }

provider "aws" {
  region                      = var.region
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  endpoints {
    batch     = var.endpoint
    iam       = var.endpoint
    logs      = var.endpoint
    scheduler = var.endpoint
    sfn       = var.endpoint
    sts       = var.endpoint
  }
}

module "job" {
  source   = "./modules/scheduled_job"
  for_each = var.jobs

  account_id          = var.account_id
  app_name            = var.app_name
  stage               = var.stage
  batch_name          = each.key
  env                 = each.value.env
  batch_job_queue_arn = var.defaults.batch_job_queue_arn
  image_uri           = var.defaults.image_uri
  image_tag           = var.defaults.image_tag
  command             = each.value.command
  success_handler_arn = var.defaults.success_handler_arn
  error_handler_arn   = var.defaults.error_handler_arn
  # The last resort's topic: the infra module's; the seed's ignores it.
  notification_topic_arn = var.defaults.notification_topic_arn
  vcpus                  = each.value.vcpus
  memory                 = each.value.memory
  schedule_expression    = each.value.schedule_expression
  sfn_input              = each.value.sfn_input
}
