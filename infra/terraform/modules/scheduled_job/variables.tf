# The seed module's inputs, same names; the rest are sjob.toml's keys.

variable "account_id" {
  type        = string
  default     = null
  description = "The account ARNs are built for; the caller's by default."
}

variable "region" {
  type        = string
  default     = null
  description = "The region ARNs are built for; the provider's by default."
}

variable "app_name" {
  type = string
  validation {
    condition     = can(regex("^[A-Za-z0-9_-]+$", var.app_name))
    error_message = "Letters, digits, - and _ only."
  }
}

variable "stage" {
  type = string
  validation {
    condition     = can(regex("^[A-Za-z0-9_-]+$", var.stage))
    error_message = "Letters, digits, - and _ only."
  }
}

variable "batch_name" {
  type = string
  validation {
    condition     = can(regex("^[A-Za-z0-9_-]+$", var.batch_name))
    error_message = "Letters, digits, - and _ only."
  }
}

variable "env" {
  type        = map(string)
  default     = {}
  description = "Container environment."
}

variable "batch_job_queue_arn" {
  type = string
}

variable "image_uri" {
  type = string
}

variable "image_tag" {
  type    = string
  default = "latest"
}

variable "command" {
  type = list(string)
  validation {
    condition     = length(var.command) > 0
    error_message = "The command must not be empty."
  }
}

variable "success_handler_arn" {
  type = string
}

variable "error_handler_arn" {
  type = string
}

variable "notification_topic_arn" {
  description = "The topic the handlers publish to (job_base's sns_topic_arn): if the error handler fails, the state machine publishes a short notice there itself."
  type        = string
  validation {
    condition     = can(regex("^arn:[^:]+:sns:[^:]+:[0-9]{12}:.+$", var.notification_topic_arn))
    error_message = "notification_topic_arn must be an SNS topic ARN."
  }
}

variable "vcpus" {
  type    = string
  default = "1"
}

variable "memory" {
  type        = string
  default     = "2048"
  description = "MiB."
}

variable "schedule_expression" {
  type        = string
  description = "rate(...), cron(...) or at(...)."
}

variable "sfn_input" {
  type        = any
  default     = {}
  description = "The execution input the schedule sends. The seed module's default was {\"message\": \"hello\"}."
}

variable "schedule_timezone" {
  type    = string
  default = "Asia/Tokyo"
}

variable "enabled" {
  type        = bool
  default     = true
  description = "false deploys the schedule DISABLED."
}

variable "timeout_seconds" {
  type        = number
  default     = null
  description = "Batch attempt timeout, at least 60."
}

variable "overlap" {
  type        = string
  default     = "allow"
  nullable    = false
  description = "allow, or skip: a run that starts while an earlier one is still running ends at once, without a job."
  validation {
    condition     = contains(["allow", "skip"], var.overlap)
    error_message = "overlap must be allow or skip."
  }
}

variable "notify_on_skip" {
  type        = bool
  default     = false
  nullable    = false
  description = "With overlap = \"skip\", send a SKIPPED notification for each skipped run."
}

variable "run_timeout_seconds" {
  type        = number
  default     = null
  description = "A cap on the whole run, queue time and every attempt included (60 to 31536000): the Batch job is stopped and a timeout notification sent."
  validation {
    condition     = var.run_timeout_seconds == null || (coalesce(var.run_timeout_seconds, 60) >= 60 && coalesce(var.run_timeout_seconds, 60) <= 31536000)
    error_message = "run_timeout_seconds must be from 60 to 31536000."
  }
}

variable "expect_success_within" {
  type        = string
  default     = null
  description = "An alarm when no run succeeded for this long (5m to 7d, whole hours from 1h, as \"26h\"): the error handler sends a missed notification, and recovered after the next success."
  validation {
    condition     = var.expect_success_within == null || can(regex("^[0-9]+[mhd]$", coalesce(var.expect_success_within, "1h")))
    error_message = "expect_success_within must be a whole number of minutes (m), hours (h) or days (d), as \"26h\"."
  }
}

variable "array_size" {
  type        = number
  default     = null
  description = "Run the job as a Batch array job of this many children (2 to 10000), each with AWS_BATCH_JOB_ARRAY_INDEX; the run fails when any child fails."
  validation {
    condition     = var.array_size == null || (coalesce(var.array_size, 2) >= 2 && coalesce(var.array_size, 2) <= 10000 && floor(coalesce(var.array_size, 2)) == coalesce(var.array_size, 2))
    error_message = "array_size must be a whole number from 2 to 10000."
  }
}

variable "retry_attempts" {
  type    = number
  default = 1
}

variable "retry_on" {
  type = list(object({
    exit_code     = optional(string)
    reason        = optional(string)
    status_reason = optional(string)
    action        = string
  }))
  default     = []
  nullable    = false
  description = "Which failed attempts Batch retries (evaluateOnExit), at most 5 rules: the first match decides, no match retries. action is retry or exit."
  validation {
    condition     = length(var.retry_on) <= 5 && alltrue([for rule in var.retry_on : contains(["retry", "exit"], lower(rule.action))])
    error_message = "retry_on takes at most 5 rules, each with action retry or exit."
  }
}

variable "execution_log_group" {
  type        = string
  default     = "vended"
  nullable    = false
  description = "vended: the state machine logs to /aws/vendedlogs/states/{app}/{stage}/{batch}. seed: to the seed module's {app}/{stage}/scheduled/{batch}, which Step Functions adds to the account's 5,120-character CloudWatch Logs resource policy (about 50 jobs per account and region)."
  validation {
    condition     = contains(["vended", "seed"], var.execution_log_group)
    error_message = "execution_log_group must be vended or seed."
  }
}

variable "log_retention_days" {
  type    = number
  default = 365
}

variable "task_policy_statements" {
  type        = any
  default     = []
  description = "IAM statements for the job's task role. It gets nothing else."
}

variable "tags" {
  type    = map(string)
  default = {}
}

variable "description" {
  type    = string
  default = null
}

variable "assign_public_ip" {
  type    = bool
  default = false
}

variable "cpu_architecture" {
  type        = string
  default     = null
  description = "x86_64 or arm64 (Graviton). Batch's x86_64 when null; Fargate Spot runs only x86_64."
  validation {
    condition     = var.cpu_architecture == null || contains(["x86_64", "arm64"], coalesce(var.cpu_architecture, "x86_64"))
    error_message = "cpu_architecture must be x86_64 or arm64."
  }
}

variable "ephemeral_storage_gib" {
  type        = number
  default     = null
  description = "Fargate task storage, 21 to 200 GiB. Fargate's 20 when null."
  validation {
    condition     = var.ephemeral_storage_gib == null || (coalesce(var.ephemeral_storage_gib, 21) >= 21 && coalesce(var.ephemeral_storage_gib, 21) <= 200)
    error_message = "ephemeral_storage_gib must be from 21 to 200."
  }
}

variable "platform_version" {
  type        = string
  default     = "LATEST"
  nullable    = false
  description = "The Fargate platform version the task runs on: LATEST, 1.4.0 or 1.3.0 (the job definition's fargatePlatformConfiguration.platformVersion)."
  validation {
    condition     = contains(["LATEST", "1.4.0", "1.3.0"], var.platform_version)
    error_message = "platform_version must be LATEST, 1.4.0 or 1.3.0."
  }
}

variable "schedule_retry" {
  type = object({
    maximum_retry_attempts    = optional(number, 185)
    maximum_event_age_seconds = optional(number, 86400)
  })
  default     = {}
  nullable    = false
  description = "How Scheduler retries a run it could not start. AWS's defaults: 185 attempts within 86400 seconds."
}

variable "schedule_dead_letter_arn" {
  type        = string
  default     = null
  description = "An SQS queue for the runs Scheduler could not start after its retries. The scheduler role may send to it and nothing else. Must be known at plan time (it decides whether the role's dead-letter policy exists): build it from the queue's name rather than from a queue created in the same apply."
}
