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

variable "retry_attempts" {
  type    = number
  default = 1
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
