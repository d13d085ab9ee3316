# One role for both handlers: publish to this topic, read Batch jobs to
# enrich failures, write their own logs. Nothing else.

data "aws_iam_policy_document" "assume_lambda" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "handler" {
  name               = "${local.prefix}-BatchHandlerRole"
  assume_role_policy = data.aws_iam_policy_document.assume_lambda.json
  tags               = var.tags
}

data "aws_iam_policy_document" "handler" {
  statement {
    sid       = "Notify"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.notifications.arn]
  }

  # DescribeJobs supports no resource-level permissions.
  statement {
    sid       = "EnrichFailures"
    actions   = ["batch:DescribeJobs"]
    resources = ["*"]
  }

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [for group in aws_cloudwatch_log_group.handler : "${group.arn}:*"]
  }

  dynamic "statement" {
    for_each = var.topic_kms_key_id == "alias/aws/sns" ? [] : [var.topic_kms_key_id]
    content {
      sid       = "EncryptForTopic"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "handler" {
  name   = "${local.prefix}-BatchHandlerPolicy"
  role   = aws_iam_role.handler.id
  policy = data.aws_iam_policy_document.handler.json
}
