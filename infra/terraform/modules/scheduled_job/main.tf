# One job's stack, as `sjob deploy` builds it. The state machine definition
# and the IAM documents are templates `sjob render --what terraform` writes
# (see templates/); do not edit them by hand.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  # Every name is sjob's (`sjob render --what terraform`).
  names = jsondecode(templatefile("${path.module}/templates/names.json.tftpl", {
    app_name   = var.app_name
    stage      = var.stage
    batch_name = var.batch_name
  }))
  job_name = local.names.job_name
  # Outside /aws/vendedlogs/, Step Functions adds the group to the account's
  # CloudWatch Logs resource policy (5,120 characters: about 50 jobs).
  execution_log_group = var.execution_log_group == "seed" ? local.names.seed_log_group : local.names.log_group

  template_vars = {
    partition                = data.aws_partition.current.partition
    console_host             = jsondecode(file("${path.module}/templates/partitions.json"))[data.aws_partition.current.partition].console_host
    region                   = coalesce(var.region, data.aws_region.current.name)
    account_id               = coalesce(var.account_id, data.aws_caller_identity.current.account_id)
    app_name                 = var.app_name
    stage                    = var.stage
    batch_name               = var.batch_name
    batch_job_queue_arn      = var.batch_job_queue_arn
    success_handler_arn      = var.success_handler_arn
    error_handler_arn        = var.error_handler_arn
    notification_topic_arn   = var.notification_topic_arn
    image_uri                = var.image_uri
    image_tag                = var.image_tag
    ecr_repository_arn       = local.ecr_repository_arn
    vcpus                    = var.vcpus
    memory                   = var.memory
    command                  = var.command
    env                      = var.env
    task_policy_statements   = var.task_policy_statements
    schedule_dead_letter_arn = var.schedule_dead_letter_arn
    run_timeout_seconds      = var.run_timeout_seconds
    array_size               = var.array_size
    expect_success_within    = var.expect_success_within
    overlap                  = var.overlap
    notify_on_skip           = var.notify_on_skip
  }

  # The job image's private ECR repository, as sjob reads it
  # (ecr_repository_arn in deployer/src/render/iam.rs); null for any other
  # registry, whose pulls need no IAM permission.
  ecr_image = try(
    regex("^([0-9]{12})\\.dkr\\.ecr(?:-fips)?\\.([a-z0-9-]+)\\.amazonaws\\.com(?:\\.cn)?/(.+)$", var.image_uri),
    regex("^([0-9]{12})\\.dkr-ecr(?:-fips)?\\.([a-z0-9-]+)\\.on\\.aws/(.+)$", var.image_uri),
    null,
  )
  ecr_repository_arn = local.ecr_image == null ? null : "arn:${data.aws_partition.current.partition}:ecr:${local.ecr_image[1]}:${local.ecr_image[0]}:repository/${local.ecr_image[2]}"

  # `expect_success_within` as sjob reads it (deployer/src/model/alarm.rs):
  # one-minute periods below an hour, hourly ones from an hour on.
  success_window         = var.expect_success_within == null ? null : regex("^([0-9]+)([mhd])$", var.expect_success_within)
  success_window_seconds = local.success_window == null ? null : tonumber(local.success_window[0]) * { m = 60, h = 3600, d = 86400 }[local.success_window[1]]
  alarm_period           = local.success_window_seconds == null ? null : (local.success_window_seconds < 3600 ? 60 : 3600)
}

resource "aws_cloudwatch_log_group" "state_machine" {
  # checkov:skip=CKV_AWS_158:As `sjob deploy`: CloudWatch Logs encrypts at rest with its own keys; a customer KMS key would need a key policy for the logs service that this module does not own.
  name              = local.execution_log_group
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

resource "aws_cloudwatch_log_group" "container" {
  # checkov:skip=CKV_AWS_158:As `sjob deploy`: CloudWatch Logs encrypts at rest with its own keys; a customer KMS key would need a key policy for the logs service that this module does not own.
  name              = local.names.container_log_group
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

resource "aws_batch_job_definition" "job" {
  name                  = local.job_name
  type                  = "container"
  platform_capabilities = ["FARGATE"]
  propagate_tags        = true
  tags                  = var.tags

  container_properties = jsonencode(merge(
    {
      image       = "${var.image_uri}:${var.image_tag}"
      command     = var.command
      environment = [for k, v in var.env : { name = k, value = v }]
      resourceRequirements = [
        { type = "VCPU", value = var.vcpus },
        { type = "MEMORY", value = var.memory },
      ]
      jobRoleArn                   = aws_iam_role.role["EcsTaskRole"].arn
      executionRoleArn             = aws_iam_role.role["EcsTaskExecRole"].arn
      fargatePlatformConfiguration = { platformVersion = var.platform_version }
      networkConfiguration         = { assignPublicIp = var.assign_public_ip ? "ENABLED" : "DISABLED" }
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.container.name
          awslogs-region        = local.template_vars.region
          awslogs-stream-prefix = var.batch_name
        }
      }
    },
    var.cpu_architecture == null ? {} : {
      runtimePlatform = { operatingSystemFamily = "LINUX", cpuArchitecture = upper(var.cpu_architecture) }
    },
    var.ephemeral_storage_gib == null ? {} : {
      ephemeralStorage = { sizeInGiB = var.ephemeral_storage_gib }
    },
  ))

  retry_strategy {
    attempts = var.retry_attempts

    dynamic "evaluate_on_exit" {
      for_each = var.retry_on
      content {
        on_exit_code     = evaluate_on_exit.value.exit_code
        on_reason        = evaluate_on_exit.value.reason
        on_status_reason = evaluate_on_exit.value.status_reason
        action           = upper(evaluate_on_exit.value.action)
      }
    }
  }

  dynamic "timeout" {
    for_each = var.timeout_seconds == null ? [] : [var.timeout_seconds]
    content {
      attempt_duration_seconds = timeout.value
    }
  }
}

# overlap = "skip": the table holding the job's one claim (the execution
# running it), which the state machine takes before the job and releases
# on every way it ends (deployer/src/render/definition.rs). Terraform waits
# until it is ACTIVE.
resource "aws_dynamodb_table" "claim" {
  # checkov:skip=CKV_AWS_28:As `sjob deploy`: the one item names the execution running the job; point-in-time recovery could only restore a claim that is stale.
  # checkov:skip=CKV_AWS_119:As `sjob deploy`: the item holds an execution ARN, no data; DynamoDB encrypts it at rest with an AWS-owned key.
  count        = var.overlap == "skip" ? 1 : 0
  name         = "${local.job_name}-Claim"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "job"
  tags         = var.tags

  attribute {
    name = "job"
    type = "S"
  }
}

resource "aws_sfn_state_machine" "job" {
  # checkov:skip=CKV_AWS_284:As `sjob deploy`: tracing is off (a Batch job and two Lambda calls; execution history and logs at level ALL show each step), so the role has no X-Ray permissions.
  name     = local.job_name
  type     = "STANDARD"
  role_arn = aws_iam_role.role["BatchSfnRole"].arn
  # The template's directives follow overlap, notify_on_skip and the
  # topic's kind (FIFO or not), as sjob's definition does.
  definition = templatefile("${path.module}/templates/state_machine.json.tftpl", local.template_vars)
  tags       = var.tags

  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.state_machine.arn}:*"
    include_execution_data = true
    level                  = "ALL"
  }

  # The definition names the job definition without a revision (the latest)
  # and, with overlap = "skip", the claim table.
  depends_on = [aws_batch_job_definition.job, aws_iam_role_policy.inline, aws_dynamodb_table.claim]
}

resource "aws_scheduler_schedule" "job" {
  # checkov:skip=CKV_AWS_297:As `sjob deploy`: the schedule holds only the execution input, no secrets; Scheduler encrypts it with an AWS-owned key.
  name                         = local.names.schedule
  group_name                   = "default"
  schedule_expression          = var.schedule_expression
  schedule_expression_timezone = var.schedule_timezone
  state                        = var.enabled ? "ENABLED" : "DISABLED"
  description                  = var.description

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_sfn_state_machine.job.arn
    role_arn = aws_iam_role.role["PipesRole"].arn
    input    = jsonencode(var.sfn_input)

    retry_policy {
      maximum_retry_attempts       = var.schedule_retry.maximum_retry_attempts
      maximum_event_age_in_seconds = var.schedule_retry.maximum_event_age_seconds
    }

    dynamic "dead_letter_config" {
      for_each = var.schedule_dead_letter_arn == null ? [] : [var.schedule_dead_letter_arn]
      content {
        arn = dead_letter_config.value
      }
    }
  }

  depends_on = [aws_iam_role_policy.inline]
}

# The missed-run alarm: no successful execution in any period of the
# window (missing data counts as none) invokes the error handler, and so
# does the return to OK; only this alarm may invoke it.
resource "aws_cloudwatch_metric_alarm" "missed" {
  count               = var.expect_success_within == null ? 0 : 1
  alarm_name          = local.names.missed_alarm
  alarm_description   = templatefile("${path.module}/templates/missed_alarm_description.tftpl", local.template_vars)
  namespace           = "AWS/States"
  metric_name         = "ExecutionsSucceeded"
  statistic           = "Sum"
  dimensions          = { StateMachineArn = aws_sfn_state_machine.job.arn }
  period              = local.alarm_period
  evaluation_periods  = local.success_window_seconds / local.alarm_period
  datapoints_to_alarm = local.success_window_seconds / local.alarm_period
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = [var.error_handler_arn]
  ok_actions          = [var.error_handler_arn]
  tags                = var.tags

  lifecycle {
    precondition {
      condition     = local.success_window_seconds >= 300 && local.success_window_seconds <= 604800 && (local.success_window_seconds < 3600 || local.success_window_seconds % 3600 == 0)
      error_message = "expect_success_within must be from 5m to 7d, and whole hours from 1h on (CloudWatch evaluates at most a day of one-minute periods, 7 days of hourly ones)."
    }
  }
}

resource "aws_lambda_permission" "missed_alarm" {
  count         = length(aws_cloudwatch_metric_alarm.missed)
  statement_id  = aws_cloudwatch_metric_alarm.missed[0].alarm_name
  action        = "lambda:InvokeFunction"
  function_name = var.error_handler_arn
  principal     = "lambda.alarms.cloudwatch.amazonaws.com"
  source_arn    = aws_cloudwatch_metric_alarm.missed[0].arn
}
