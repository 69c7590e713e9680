variable "name" {
  description = "Name prefix (project-environment)."
  type        = string
}

variable "region" {
  description = "AWS region."
  type        = string
}

variable "account_id" {
  description = "AWS account id."
  type        = string
}

# --- network ----------------------------------------------------------------------------------

variable "vpc_id" {
  description = "VPC of the cluster."
  type        = string
}

variable "private_subnet_ids" {
  description = "Subnets of every task and of the GPU instances."
  type        = list(string)
}

variable "app_security_group_id" {
  description = "Security group of every task (services, runs, steps)."
  type        = string
}

variable "service_namespace" {
  description = "Private DNS namespace of the services (code server and MLflow are <service>.<namespace>)."
  type        = string
}

variable "ports" {
  description = "Container ports: webserver, code_server, mlflow."
  type = object({
    webserver   = number
    code_server = number
    mlflow      = number
  })
}

variable "webserver_target_group" {
  description = "ARN of the load balancer target group of the webserver."
  type        = string
}

# --- images and the pipeline's configuration --------------------------------------------------

variable "image" {
  description = "Pipeline image: webserver, daemon, code server, runs and steps."
  type        = string
}

variable "mlflow_image" {
  description = "MLflow tracking server image (python, mlflow, psycopg2, boto3)."
  type        = string
}

variable "pipeline_environment" {
  description = "Non-secret pipeline variables (root output pipeline_environment): the `environment` of every container."
  type        = map(string)
}

variable "pipeline_secrets" {
  description = "Secret pipeline variables -> Secrets Manager ARN (root output pipeline_secrets): the `secrets` of the containers."
  type        = map(string)
}

variable "pipeline_secret_json_keys" {
  description = "For secrets stored as JSON: variable -> JSON key of the value."
  type        = map(string)
  default     = {}
}

variable "mlflow_environment" {
  description = "The MLflow server's own variables: its database role and databases, its users' names, the registered models."
  type        = map(string)
}

variable "mlflow_secrets" {
  description = "The MLflow server's secrets: variable -> Secrets Manager ARN and JSON key (null: the whole string)."
  type        = map(object({ arn = string, json_key = string }))
}

variable "db_bootstrap_environment" {
  description = "Variables of the database bootstrap task (host, databases, role names)."
  type        = map(string)
}

variable "db_bootstrap_secrets" {
  description = "Secrets of the database bootstrap task (the RDS master user and the roles' passwords): variable -> ARN and JSON key."
  type        = map(object({ arn = string, json_key = string }))
}

variable "secrets_kms_key_arns" {
  description = "KMS keys the pipeline secrets are encrypted with (the execution role decrypts through Secrets Manager)."
  type        = list(string)
}

# --- storage ----------------------------------------------------------------------------------

variable "storage_kms_key_arn" {
  description = "KMS key of the buckets."
  type        = string
}

variable "data_bucket_arn" {
  description = "Data bucket (FRAUDSHIELD_S3_BUCKET)."
  type        = string
}

variable "data_prefix" {
  description = "The pipeline's prefix in the data bucket (FRAUDSHIELD_S3_PREFIX); task roles are scoped to it."
  type        = string
}

variable "artifacts_bucket_arn" {
  description = "Artifacts bucket: MLflow under mlflow/, Dagster compute logs under dagster/compute-logs/."
  type        = string
}

variable "reports_bucket_arn" {
  description = "Reports bucket."
  type        = string
}

# --- sizes and scale-out ----------------------------------------------------------------------

variable "run_cpu" {
  description = "CPU units of a run/step task."
  type        = number
  default     = 2048
}

variable "run_memory" {
  description = "Memory (MiB) of a run/step task."
  type        = number
  default     = 8192
}

variable "webserver_desired_count" {
  description = "Webserver tasks."
  type        = number
  default     = 2
}

variable "max_concurrent_runs" {
  description = "QueuedRunCoordinator max_concurrent_runs."
  type        = number
  default     = 16
}

variable "backfill_max_concurrent_runs" {
  description = "Concurrent runs of one backfill (tag dagster/backfill, per unique value)."
  type        = number
  default     = 8
}

variable "gpu_instance_type" {
  description = "GPU instance type."
  type        = string
  default     = "g5.xlarge"
}

variable "gpu_max_instances" {
  description = "Maximum GPU instances (minimum is 0)."
  type        = number
  default     = 4
}

variable "gpu_ami_ssm_parameter" {
  description = "SSM parameter of the ECS GPU-optimized AMI id."
  type        = string
  default     = "/aws/service/ecs/optimized-ami/amazon-linux-2023/gpu/recommended/image_id"
}

variable "gpu_root_volume_gib" {
  description = "Root volume of a GPU instance (CUDA images are large)."
  type        = number
  default     = 100
}

# --- logs -------------------------------------------------------------------------------------

variable "logs_kms_key_arn" {
  description = "KMS key of the log groups."
  type        = string
}

variable "log_retention_days" {
  description = "Log retention."
  type        = number
}
