variable "name" {
  description = "Name prefix (project-environment); also the DB instance identifier."
  type        = string
}

variable "account_id" {
  description = "AWS account id."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the DB subnet group."
  type        = list(string)
}

variable "security_group_id" {
  description = "Security group of the instance (PostgreSQL from the ECS tasks only)."
  type        = string
}

variable "instance_class" {
  description = "Instance class."
  type        = string
}

variable "engine_version" {
  description = "PostgreSQL major version, e.g. 16."
  type        = string
}

variable "allocated_storage" {
  description = "Initial storage (GiB)."
  type        = number
}

variable "max_allocated_storage" {
  description = "Storage autoscaling ceiling (GiB)."
  type        = number
}

variable "multi_az" {
  description = "Multi-AZ standby."
  type        = bool
  default     = true
}

variable "deletion_protection" {
  description = "Deletion protection."
  type        = bool
  default     = true
}

variable "backup_retention_days" {
  description = "Automated backup retention (days)."
  type        = number
  default     = 14
}

variable "database_name" {
  description = "Initial database: Dagster's run, event-log and schedule storage (MLflow creates its own `mlflow` database next to it)."
  type        = string
  default     = "dagster"
}

variable "master_username" {
  description = "Master user (DAGSTER_PG_USER). Its password is generated and kept by RDS in Secrets Manager."
  type        = string
  default     = "fraudshield"
}

variable "logs_kms_key_arn" {
  description = "KMS key of the exported PostgreSQL log groups."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the exported logs."
  type        = number
}
