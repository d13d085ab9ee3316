variable "region" {
  type    = string
  default = "ap-northeast-1"
}

variable "image_uri" {
  type        = string
  description = "The jobs' image repository, e.g. 123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/myapp."
}

variable "success_handler_zip" {
  type    = string
  default = "../../../target/lambda/success-handler/bootstrap.zip"
}

variable "error_handler_zip" {
  type    = string
  default = "../../../target/lambda/error-handler/bootstrap.zip"
}

variable "subnet_ids" {
  type = list(string)
}

variable "security_group_ids" {
  type = list(string)
}

variable "notify_emails" {
  type    = list(string)
  default = []
}
