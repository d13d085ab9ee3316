# Batch job definition, log group, state machine and schedule: the same four
# resources, names and settings as the seed's scheduled_job module, but for
# the log group's name. The seed's `{app}/{stage}/scheduled/{batch}` lies
# outside /aws/vendedlogs/, so Step Functions adds each to the account's
# 5,120-character log resource policy and refuses the ~50th state machine
# (the harness models it); the benchmark's 100 and 1,000 jobs could not
# deploy. It takes sjob's vended name, a rename that costs Terraform nothing.

resource "aws_batch_job_definition" "this" {
  name                  = local.job_name
  type                  = "container"
  platform_capabilities = ["FARGATE"]
  container_properties = jsonencode({
    image                        = "${var.image_uri}:${var.image_tag}"
    environment                  = [for k, v in var.env : { name = k, value = v }]
    fargatePlatformConfiguration = { platformVersion = "1.4.0" }
    resourceRequirements = [
      { type = "VCPU", value = var.vcpus },
      { type = "MEMORY", value = var.memory },
    ]
    jobRoleArn       = aws_iam_role.task.arn
    executionRoleArn = aws_iam_role.task_exec.arn
  })
}

resource "aws_cloudwatch_log_group" "this" {
  name              = "/aws/vendedlogs/states/${var.app_name}/${var.stage}/${var.batch_name}"
  retention_in_days = 365
}

resource "aws_sfn_state_machine" "this" {
  name     = local.job_name
  role_arn = aws_iam_role.sfn.arn
  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.this.arn}:*"
    include_execution_data = true
    level                  = "ALL"
  }
  definition = jsonencode({
    Comment = "A description of my state machine"
    StartAt = "ExtractInputParameters"
    States = {
      ExtractInputParameters = {
        Type = "Pass"
        Next = "BatchGroup"
        Parameters = {
          metadata = {
            app_name = var.app_name, stage = var.stage, batch_name = var.batch_name,
            job_name = local.job_name, command = var.command, vcpus = var.vcpus,
            memory = var.memory, image_uri = var.image_uri, image_tag = var.image_tag,
            env = var.env
          }
          "input.$" = "$"
        }
        ResultPath = "$"
      }
      BatchGroup = {
        Type = "Parallel"
        Branches = [{
          StartAt = "Batch"
          States = {
            Batch = {
              Type     = "Task"
              Resource = "arn:aws:states:::batch:submitJob.sync"
              Parameters = {
                JobName            = local.job_name
                JobDefinition      = aws_batch_job_definition.this.arn
                JobQueue           = var.batch_job_queue_arn
                Parameters         = { "sfn_input.$" = "$.input" }
                ContainerOverrides = { Command = var.command }
              }
              ResultPath = "$.batch"
              Next       = "OnSuccess"
            }
            OnSuccess = {
              Type     = "Task"
              Resource = "arn:aws:states:::lambda:invoke"
              Parameters = {
                Payload      = { "state.$" = "$", "context.$" = "$$" }
                FunctionName = "${var.success_handler_arn}:$LATEST"
              }
              ResultPath = "$.success_handler"
              End        = true
            }
          }
        }]
        Catch = [{ ErrorEquals = ["States.ALL"], ResultPath = "$.error", Next = "ErrorHandler" }]
        End   = true
      }
      ErrorHandler = {
        Type     = "Task"
        Resource = "arn:aws:states:::lambda:invoke"
        Parameters = {
          Payload      = { "state.$" = "$", "context.$" = "$$" }
          FunctionName = "${var.error_handler_arn}:$LATEST"
        }
        ResultPath = "$.error_handler"
        Retry = [{
          ErrorEquals     = ["Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException"]
          IntervalSeconds = 2
          MaxAttempts     = 6
          BackoffRate     = 2
        }]
        End = true
      }
    }
  })
}

resource "aws_scheduler_schedule" "this" {
  name       = "${local.job_name}-Scheduler"
  group_name = "default"
  flexible_time_window {
    mode = "OFF"
  }
  schedule_expression          = var.schedule_expression
  schedule_expression_timezone = "Asia/Tokyo"
  target {
    arn      = aws_sfn_state_machine.this.arn
    role_arn = aws_iam_role.scheduler.arn
    input    = jsonencode(var.sfn_input)
  }
  depends_on = [aws_iam_role_policy_attachment.scheduler_target]
}
