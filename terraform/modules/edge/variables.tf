variable "name" {
  description = "Name prefix (project-environment)."
  type        = string
}

variable "account_id" {
  description = "AWS account id."
  type        = string
}

variable "vpc_id" {
  description = "VPC id."
  type        = string
}

variable "public_subnet_ids" {
  description = "Public subnets of the load balancer."
  type        = list(string)
}

variable "security_group_id" {
  description = "Security group of the load balancer."
  type        = string
}

variable "certificate_arn" {
  description = "ACM certificate of ui_domain_name."
  type        = string
}

variable "ui_domain_name" {
  description = "Host name of the UI."
  type        = string
}

variable "route53_zone_id" {
  description = "Hosted zone for an alias record of ui_domain_name; null: none."
  type        = string
  default     = null
}

variable "auth_provider" {
  description = "cognito or oidc."
  type        = string
}

variable "oidc" {
  description = "OIDC IdP (auth_provider = oidc); the client secret is read from Secrets Manager."
  type = object({
    issuer                 = string
    authorization_endpoint = string
    token_endpoint         = string
    user_info_endpoint     = string
    client_id              = string
    client_secret_arn      = string
  })
  default = null

  validation {
    condition     = var.oidc == null || can(regex("^arn:aws:secretsmanager:", var.oidc.client_secret_arn))
    error_message = "oidc.client_secret_arn must be the ARN of a Secrets Manager secret (never the secret itself)."
  }
}

variable "session_timeout_seconds" {
  description = "Authenticated session length."
  type        = number
  default     = 28800
}

variable "access_log_bucket" {
  description = "Bucket of the load balancer's access logs (SSE-S3; prefix alb/)."
  type        = string
}

variable "deletion_protection" {
  description = "Deletion protection of the load balancer and the Cognito user pool."
  type        = bool
  default     = true
}

variable "webserver_port" {
  description = "Port of the Dagster webserver containers."
  type        = number
}

variable "webserver_health_path" {
  description = "Health-check path of the webserver."
  type        = string
  default     = "/server_info"
}

variable "waf_rate_limit" {
  description = "Requests per 5 minutes per client IP before WAF blocks."
  type        = number
  default     = 3000
}

variable "logs_kms_key_arn" {
  description = "KMS key of the WAF log group."
  type        = string
}

variable "log_retention_days" {
  description = "WAF log retention."
  type        = number
}
