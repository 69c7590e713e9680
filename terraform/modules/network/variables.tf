variable "name" {
  description = "Name prefix (project-environment)."
  type        = string
}

variable "vpc_cidr" {
  description = "VPC CIDR (a /16 is expected: /24 public and /20 private subnets)."
  type        = string
}

variable "availability_zones" {
  description = "Availability zone names (2 or 3)."
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) >= 2 && length(var.availability_zones) <= 3
    error_message = "Give 2 or 3 availability zones (RDS and the load balancer need two)."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway shared by all private subnets."
  type        = bool
}

variable "allowed_cidrs" {
  description = "CIDRs that may reach the load balancer on 80/443."
  type        = list(string)
}

variable "ports" {
  description = "Container ports: webserver, code_server, mlflow."
  type = object({
    webserver   = number
    code_server = number
    mlflow      = number
  })
}

variable "logs_kms_key_arn" {
  description = "KMS key of the flow-log group."
  type        = string
}

variable "log_retention_days" {
  description = "Flow-log retention."
  type        = number
}
