variable "name" {
  description = "Name prefix (project-environment)."
  type        = string
}

variable "account_id" {
  description = "AWS account id (bucket names are global: they end with it)."
  type        = string
}

variable "force_destroy" {
  description = "Allow destroying non-empty buckets."
  type        = bool
  default     = false
}

variable "noncurrent_version_expiration_days" {
  description = "Days a noncurrent object version is kept."
  type        = number
  default     = 90
}

variable "log_expiration_days" {
  description = "Days access logs (S3 and load balancer) are kept."
  type        = number
  default     = 400
}
