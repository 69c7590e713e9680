# --- identity and cost allocation -------------------------------------------------------------

variable "project" {
  description = "Project name: prefix of every resource name and the `project` cost tag."
  type        = string
  default     = "fraudshield"
}

variable "environment" {
  description = "Deployment environment (`environment` cost tag)."
  type        = string

  validation {
    condition     = contains(["staging", "prod"], var.environment)
    error_message = "environment must be staging or prod."
  }
}

variable "region" {
  description = "AWS region of the whole deployment (also AWS_DEFAULT_REGION of the tasks)."
  type        = string
}

variable "owner" {
  description = "Owning team (`owner` cost tag)."
  type        = string
}

variable "cost_center" {
  description = "Cost center (`cost-center` cost tag)."
  type        = string
}

variable "extra_tags" {
  description = "More tags for every resource; the four cost tags above always win."
  type        = map(string)
  default     = {}
}

# --- network ----------------------------------------------------------------------------------

variable "vpc_cidr" {
  description = "CIDR of the VPC; split into public and private /20 subnets per AZ."
  type        = string
  default     = "10.40.0.0/16"
}

variable "availability_zones" {
  description = "Availability zones, by name (2 or 3): the subnets, NAT gateways, RDS Multi-AZ and Redis replicas spread over them."
  type        = list(string)
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all AZs (cheaper, not AZ-fault-tolerant)."
  type        = bool
  default     = false
}

# --- pipeline ---------------------------------------------------------------------------------

variable "image" {
  description = "Pipeline container image (this repository, with dagster, dagster-aws, mlflow, psycopg2), ideally pinned by digest."
  type        = string
}

variable "mlflow_image" {
  description = "Image of the MLflow tracking server; null uses `image` (which has mlflow and psycopg2)."
  type        = string
  default     = null
}

variable "s3_prefix" {
  description = "Key prefix of the pipeline's tables and reports in the data bucket (FRAUDSHIELD_S3_PREFIX)."
  type        = string
  default     = "fraudshield"
}

variable "training_device" {
  description = "FRAUDSHIELD_TRAINING_DEVICE: cuda tags the training step for the GPU capacity provider."
  type        = string
  default     = "cuda"

  validation {
    condition     = contains(["cpu", "cuda"], var.training_device)
    error_message = "training_device must be cpu or cuda."
  }
}

variable "max_concurrent_runs" {
  description = "Run queue: runs executing at once (each run, and with the ECS executor each step, is its own task)."
  type        = number
  default     = 16
}

variable "backfill_max_concurrent_runs" {
  description = "Run queue: partition runs of one backfill executing at once."
  type        = number
  default     = 8
}

variable "run_cpu" {
  description = "CPU units of a run/step task (Fargate combination with run_memory)."
  type        = number
  default     = 2048
}

variable "run_memory" {
  description = "Memory (MiB) of a run/step task."
  type        = number
  default     = 8192
}

variable "webserver_desired_count" {
  description = "Dagster webserver tasks behind the load balancer."
  type        = number
  default     = 2
}

variable "log_retention_days" {
  description = "CloudWatch Logs retention of every log group (tasks, flow logs, WAF)."
  type        = number
  default     = 365
}

# --- GPU training capacity --------------------------------------------------------------------

variable "gpu_instance_type" {
  description = "EC2 GPU instance type of the training capacity provider."
  type        = string
  default     = "g5.xlarge"
}

variable "gpu_max_instances" {
  description = "Upper bound of the GPU Auto Scaling group (its minimum is 0)."
  type        = number
  default     = 4
}

# --- database ---------------------------------------------------------------------------------

variable "db_instance_class" {
  description = "RDS instance class (Performance Insights needs db.t4g.medium or larger)."
  type        = string
  default     = "db.m7g.large"
}

variable "db_engine_version" {
  description = "PostgreSQL major version (minor upgrades are automatic)."
  type        = string
  default     = "16"
}

variable "db_allocated_storage" {
  description = "Initial storage (GiB)."
  type        = number
  default     = 50
}

variable "db_max_allocated_storage" {
  description = "Storage autoscaling ceiling (GiB)."
  type        = number
  default     = 500
}

variable "db_multi_az" {
  description = "Multi-AZ standby (on in prod)."
  type        = bool
  default     = true
}

variable "db_deletion_protection" {
  description = "Deletion protection (on in prod; turn off, apply, then destroy)."
  type        = bool
  default     = true
}

variable "db_backup_retention_days" {
  description = "Automated backup retention (days)."
  type        = number
  default     = 14
}

# --- credentials (modules/credentials) ---------------------------------------------------------

variable "credential_versions" {
  description = "Password version per credential (db-dagster, db-mlflow, mlflow-admin, mlflow-pipeline, mlflow-scoring, mlflow-flask-secret-key; default 1): increase one by one to rotate it (README, Credentials)."
  type        = map(number)
  default     = {}
}

variable "mlflow_registered_models" {
  description = "Registered models the MLflow server creates and grants on: EDIT for the pipeline's user, READ for the scoring service's (the feature-row model and its transaction service model, `<name>-service`)."
  type        = list(string)
  default     = ["fraudshield-fraud-xgb", "fraudshield-fraud-xgb-service"]
}

# --- cache ------------------------------------------------------------------------------------

variable "cache_node_type" {
  description = "ElastiCache node type of the Feast online store."
  type        = string
  default     = "cache.r7g.large"
}

variable "redis_auth_token_version" {
  description = "Version of the Redis AUTH token: increase by one to rotate it (README)."
  type        = number
  default     = 1
}

variable "cache_multi_az" {
  description = "Redis replicas in other AZs with automatic failover (on in prod)."
  type        = bool
  default     = true
}

variable "cache_num_nodes" {
  description = "Redis nodes (primary + replicas); at least 2 when cache_multi_az."
  type        = number
  default     = 2
}

# --- edge -------------------------------------------------------------------------------------

variable "ui_domain_name" {
  description = "Host name of the Dagster UI (covered by certificate_arn)."
  type        = string
}

variable "certificate_arn" {
  description = "ACM certificate for ui_domain_name, in `region`."
  type        = string
}

variable "route53_zone_id" {
  description = "Hosted zone to create the UI's alias record in; null leaves DNS to you."
  type        = string
  default     = null
}

variable "allowed_cidrs" {
  description = "CIDRs allowed to reach the load balancer (office / VPN ranges). Authentication is still required."
  type        = list(string)
}

variable "auth_provider" {
  description = "How the load balancer authenticates users: cognito (a user pool is created) or oidc (your IdP)."
  type        = string
  default     = "cognito"

  validation {
    condition     = contains(["cognito", "oidc"], var.auth_provider)
    error_message = "auth_provider must be cognito or oidc."
  }
}

variable "oidc" {
  description = "OIDC IdP when auth_provider = oidc. The client secret is read from the Secrets Manager secret client_secret_arn, never from a variable."
  type = object({
    issuer                 = string
    authorization_endpoint = string
    token_endpoint         = string
    user_info_endpoint     = string
    client_id              = string
    client_secret_arn      = string
  })
  default = null
}

variable "alb_deletion_protection" {
  description = "Deletion protection of the load balancer (and of the Cognito user pool)."
  type        = bool
  default     = true
}

# --- storage ----------------------------------------------------------------------------------

variable "force_destroy_buckets" {
  description = "Let `terraform destroy` delete non-empty buckets (every object version). Staging only."
  type        = bool
  default     = false
}

variable "noncurrent_version_expiration_days" {
  description = "Days a replaced or deleted object version is kept."
  type        = number
  default     = 90
}
