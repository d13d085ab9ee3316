# Batch job definition, log group, state machine and schedule: the same four
# resources, names and settings as the seed's scheduled_job module.

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
  name              = "${var.app_name}/${var.stage}/scheduled/${var.batch_name}"
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
