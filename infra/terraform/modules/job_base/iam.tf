# One role for both handlers: publish to this topic, read Batch jobs to
# enrich failures, write their own logs. Nothing else. The documents are
# sjob's own (`sjob render --what terraform`).

resource "aws_iam_role" "handler" {
  name               = local.names.handler_role
  assume_role_policy = file("${path.module}/templates/handler_trust_policy.json.tftpl")
  tags               = var.tags
}

resource "aws_iam_role_policy" "handler" {
  name = local.names.handler_policy
  role = aws_iam_role.handler.id
  # A key AWS manages (SNS's own) needs no grant; a customer key is granted
  # by its key ARN, as sjob grants it.
  policy = templatefile(
    "${path.module}/templates/${local.topic_key_is_aws_managed ? "handler_policy" : "handler_policy_kms"}.json.tftpl",
    {
      partition         = data.aws_partition.current.partition
      region            = data.aws_region.current.name
      account_id        = data.aws_caller_identity.current.account_id
      app_name          = var.app_name
      stage             = var.stage
      topic_arn         = aws_sns_topic.notifications.arn
      topic_kms_key_arn = data.aws_kms_key.topic.arn
    },
  )
}
