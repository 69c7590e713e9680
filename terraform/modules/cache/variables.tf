variable "name" {
  description = "Name prefix (project-environment)."
  type        = string
}

variable "account_id" {
  description = "AWS account id."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the cache subnet group."
  type        = list(string)
}

variable "security_group_id" {
  description = "Security group (Redis from the ECS tasks only)."
  type        = string
}

variable "node_type" {
  description = "Node type."
  type        = string
}

variable "multi_az" {
  description = "Replicas in other AZs with automatic failover."
  type        = bool
  default     = true
}

variable "num_nodes" {
  description = "Nodes (1 primary + replicas); with multi_az at least 2 are created."
  type        = number
}

variable "engine_version" {
  description = "Redis OSS version."
  type        = string
  default     = "7.1"
}

variable "snapshot_retention_days" {
  description = "Daily snapshots kept (the online store can also be rebuilt by materialization)."
  type        = number
  default     = 3
}

variable "logs_kms_key_arn" {
  description = "KMS key of the slow-log group."
  type        = string
}

variable "log_retention_days" {
  description = "Slow-log retention."
  type        = number
}

variable "auth_token_version" {
  description = "Version of the AUTH token: increase by one to generate and roll out a new token."
  type        = number
  default     = 1
}
