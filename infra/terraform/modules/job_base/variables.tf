variable "app_name" {
  type = string
}

variable "stage" {
  type = string
}

variable "success_handler_zip" {
  type        = string
  description = "The success-handler zip of `cargo lambda build --output-format zip` (target/lambda/success-handler/bootstrap.zip)."
}

variable "error_handler_zip" {
  type        = string
  description = "The error-handler zip (target/lambda/error-handler/bootstrap.zip)."
}

variable "handler_architecture" {
  type        = string
  default     = "arm64"
  description = "arm64 for `cargo lambda build --arm64`, x86_64 otherwise."
}

variable "handler_environment" {
  type        = map(string)
  default     = {}
  description = "Extra handler environment, e.g. NOTIFY_FORMAT = \"chatbot\". SNS_TOPIC_ARN is set."
}

variable "handler_timeout" {
  type    = number
  default = 60
}

variable "handler_memory" {
  type    = number
  default = 128
}

variable "log_retention_days" {
  type    = number
  default = 365
}

variable "topic_kms_key_id" {
  type        = string
  default     = "alias/aws/sns"
  description = "KMS key encrypting the topic: a key ARN, key id, alias name or alias ARN (resolved to the key ARN). With a customer key, its policy must let the subscribers' services decrypt."
}

variable "subscriptions" {
  type = list(object({
    protocol = string
    endpoint = string
  }))
  default     = []
  description = "Notification subscribers, e.g. { protocol = \"email\", endpoint = \"ops@example.com\" }."
}

variable "create_batch" {
  type        = bool
  default     = false
  description = "Also create a Fargate compute environment and the job queue {app}-{stage}-Batch."
}

variable "subnet_ids" {
  type        = list(string)
  default     = []
  description = "Subnets of the compute environment (with create_batch)."
}

variable "security_group_ids" {
  type        = list(string)
  default     = []
  description = "Security groups of the compute environment (with create_batch)."
}

variable "max_vcpus" {
  type    = number
  default = 32
}

variable "tags" {
  type    = map(string)
  default = {}
}
