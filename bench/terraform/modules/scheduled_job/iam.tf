# The seed module's IAM: four roles, five customer-managed policies and seven
# attachments (two of AWS-managed policies), with the seed's permissions.

locals {
  arn_prefix = "arn:aws:batch:${data.aws_region.current.name}:${var.account_id}"
  trust = { for k, service in {
    ecs       = "ecs-tasks.amazonaws.com"
    states    = "states.amazonaws.com"
    scheduler = "scheduler.amazonaws.com"
    } : k => jsonencode({
      Version   = "2012-10-17"
      Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = service } }]
  }) }
}

data "aws_region" "current" {}

resource "aws_iam_role" "task_exec" {
  name               = "${local.prefix}-EcsTaskExecRole"
  assume_role_policy = local.trust.ecs
}

resource "aws_iam_role_policy_attachment" "task_exec" {
  role       = aws_iam_role.task_exec.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

resource "aws_iam_role" "task" {
  name               = "${local.prefix}-EcsTaskRole"
  assume_role_policy = local.trust.ecs
}

resource "aws_iam_policy" "task" {
  name = "${local.prefix}-EcsTaskRolePolicy"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      { Effect = "Allow", Action = ["s3:PutObject", "s3:GetObject", "s3:ListBucket"], Resource = ["*"] },
      { Effect = "Allow", Action = ["sns:Publish"], Resource = ["*"] },
      {
        Effect   = "Allow"
        Action   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
        Resource = ["arn:aws:secretsmanager:${data.aws_region.current.name}:${var.account_id}:secret:/${var.app_name}/*"]
      },
    ]
  })
}

resource "aws_iam_role_policy_attachment" "task" {
  role       = aws_iam_role.task.name
  policy_arn = aws_iam_policy.task.arn
}

resource "aws_iam_role" "scheduler" {
  name               = "${local.prefix}-PipesRole"
  assume_role_policy = local.trust.scheduler
}

resource "aws_iam_policy" "scheduler_target" {
  name = "${local.prefix}-SchedulerTargetPolicy"
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = ["states:StartExecution"], Resource = [aws_sfn_state_machine.this.arn] }]
  })
}

resource "aws_iam_role_policy_attachment" "scheduler_target" {
  role       = aws_iam_role.scheduler.name
  policy_arn = aws_iam_policy.scheduler_target.arn
}

resource "aws_iam_role" "sfn" {
  name               = "${local.prefix}-BatchSfnRole"
  assume_role_policy = local.trust.states
}

resource "aws_iam_policy" "batch_management" {
  name = "${local.prefix}-BatchJobManagementAccessPolicy"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect = "Allow"
        Action = ["batch:TerminateJob", "batch:SubmitJob"]
        Resource = [
          "${local.arn_prefix}:job-queue/${var.app_name}-${var.stage}*",
          "${local.arn_prefix}:job/*",
          "${local.arn_prefix}:job-definition/${var.app_name}-${var.stage}-*:*",
        ]
      },
      {
        Effect   = "Allow"
        Action   = ["batch:DescribeJobs", "events:PutTargets", "events:PutRule", "events:DescribeRule"]
        Resource = "*"
      },
    ]
  })
}

resource "aws_iam_role_policy_attachment" "batch_management" {
  role       = aws_iam_role.sfn.name
  policy_arn = aws_iam_policy.batch_management.arn
}

resource "aws_iam_role_policy_attachment" "invoke_lambda" {
  role       = aws_iam_role.sfn.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSLambdaRole"
}

resource "aws_iam_policy" "logs_delivery" {
  name = "${local.prefix}-CloudWatchLogsDeliveryFullAccessPolicy"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect = "Allow"
      Action = [
        "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
      ]
      Resource = "*"
    }]
  })
}

resource "aws_iam_role_policy_attachment" "logs_delivery" {
  role       = aws_iam_role.sfn.name
  policy_arn = aws_iam_policy.logs_delivery.arn
}

resource "aws_iam_policy" "xray" {
  name = "${local.prefix}-XRayAccessPolicy"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"]
      Resource = "*"
    }]
  })
}

resource "aws_iam_role_policy_attachment" "xray" {
  role       = aws_iam_role.sfn.name
  policy_arn = aws_iam_policy.xray.arn
}
