# The four roles with sjob's inline policies, from templates/roles/<Role>/.

locals {
  roles = toset([for path in fileset("${path.module}/templates/roles", "*/trust_policy.json.tftpl") : dirname(path)])

  # "<Role>/<Policy>" for every inline policy template. The task role's
  # policy holds only the configured statements, so it exists only with some;
  # the scheduler's dead-letter policy only with a dead-letter queue; the
  # state machine's overlap check only with overlap = "skip"; the image pull
  # only with an image in private ECR.
  inline_policies = toset([
    for path in fileset("${path.module}/templates/roles", "*/policies/*.json.tftpl") :
    "${dirname(dirname(path))}/${trimsuffix(basename(path), ".json.tftpl")}"
    if(
      (length(var.task_policy_statements) > 0 || !endswith(path, "/EcsTaskRolePolicy.json.tftpl")) &&
      (var.schedule_dead_letter_arn != null || !endswith(path, "/SchedulerDeadLetterPolicy.json.tftpl")) &&
      (var.overlap == "skip" || !endswith(path, "/OverlapCheckPolicy.json.tftpl")) &&
      (local.ecr_repository_arn != null || !endswith(path, "/EcsTaskExecRoleImagePullPolicy.json.tftpl"))
    )
  ])
}

resource "aws_iam_role" "role" {
  for_each           = local.roles
  name               = "${local.job_name}-${each.key}"
  assume_role_policy = templatefile("${path.module}/templates/roles/${each.key}/trust_policy.json.tftpl", local.template_vars)
  tags               = var.tags
}

resource "aws_iam_role_policy" "inline" {
  for_each = local.inline_policies
  role     = aws_iam_role.role[split("/", each.key)[0]].id
  name     = "${local.job_name}-${split("/", each.key)[1]}"
  policy = templatefile(
    "${path.module}/templates/roles/${split("/", each.key)[0]}/policies/${split("/", each.key)[1]}.json.tftpl",
    local.template_vars,
  )
}
