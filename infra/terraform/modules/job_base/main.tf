# What every scheduled job shares: the notification topic, the two Rust
# handler functions and, optionally, a Fargate job queue.

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  # Every name, from sjob's own (`sjob render --what terraform`).
  names = jsondecode(templatefile("${path.module}/templates/names.json.tftpl", {
    app_name = var.app_name
    stage    = var.stage
  }))
  handlers = {
    success = { name = local.names.success_function, zip = var.success_handler_zip }
    error   = { name = local.names.error_function, zip = var.error_handler_zip }
  }
}

# The topic's key as KMS describes it: an alias or key id resolves to the
# key's ARN, the only form a policy can grant on (an alias in a policy's
# Resource matches nothing). A plan fails here when no such key exists.
data "aws_kms_key" "topic" {
  key_id = var.topic_kms_key_id
}

locals {
  topic_key_is_aws_managed = data.aws_kms_key.topic.key_manager == "AWS"
}

resource "aws_sns_topic" "notifications" {
  name = local.names.topic
  # As sjob sets it: a customer key by its ARN, so the topic and the policy
  # that grants its use name the same key even if the alias moves.
  kms_master_key_id = local.topic_key_is_aws_managed ? var.topic_kms_key_id : data.aws_kms_key.topic.arn
  tags              = var.tags
}

resource "aws_sns_topic_subscription" "subscriber" {
  for_each  = { for s in var.subscriptions : "${s.protocol} ${s.endpoint}" => s }
  topic_arn = aws_sns_topic.notifications.arn
  protocol  = each.value.protocol
  endpoint  = each.value.endpoint
}

resource "aws_cloudwatch_log_group" "handler" {
  # checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts at rest with its own keys; a customer KMS key would need a key policy for the logs service that this module does not own. The handlers log no event payloads or environment values.
  for_each          = local.handlers
  name              = "/aws/lambda/${each.value.name}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

resource "aws_lambda_function" "handler" {
  # checkov:skip=CKV_AWS_116:Step Functions invokes the handlers synchronously and retries them itself; a DLQ only receives failed asynchronous invocations.
  # checkov:skip=CKV_AWS_117:The handlers call only the public SNS and Batch APIs; a VPC would add NAT or endpoints and protect nothing.
  # checkov:skip=CKV_AWS_115:Each execution invokes a handler once; reserved concurrency could only throttle (and so delay) notifications.
  # checkov:skip=CKV_AWS_272:The zips come from `cargo lambda build` in the same pipeline; there is no signing profile to validate against.
  # checkov:skip=CKV_AWS_173:The environment holds only the topic ARN and the notification format, no secrets; Lambda encrypts it at rest with its service key.
  for_each         = local.handlers
  function_name    = each.value.name
  filename         = each.value.zip
  source_code_hash = filebase64sha256(each.value.zip)
  role             = aws_iam_role.handler.arn
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = [var.handler_architecture]
  timeout          = var.handler_timeout
  memory_size      = var.handler_memory
  tags             = var.tags

  environment {
    variables = merge(var.handler_environment, { SNS_TOPIC_ARN = aws_sns_topic.notifications.arn })
  }

  # JSON lines with the request id, as sjob deploys the handlers.
  logging_config {
    log_format = "JSON"
  }

  tracing_config {
    mode = "PassThrough"
  }

  depends_on = [aws_cloudwatch_log_group.handler, aws_iam_role_policy.handler]
}

resource "aws_batch_compute_environment" "fargate" {
  count                    = var.create_batch ? 1 : 0
  compute_environment_name = local.names.compute_environment
  type                     = "MANAGED"
  tags                     = var.tags

  compute_resources {
    type               = "FARGATE"
    max_vcpus          = var.max_vcpus
    subnets            = var.subnet_ids
    security_group_ids = var.security_group_ids
  }
}

resource "aws_batch_job_queue" "jobs" {
  count    = var.create_batch ? 1 : 0
  name     = local.names.job_queue
  state    = "ENABLED"
  priority = 1
  tags     = var.tags

  compute_environment_order {
    order               = 1
    compute_environment = aws_batch_compute_environment.fargate[0].arn
  }
}
