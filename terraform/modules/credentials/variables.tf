variable "name" {
  description = "Name prefix (project-environment); secrets are <name>/<credential>."
  type        = string
}

variable "account_id" {
  description = "AWS account id."
  type        = string
}

variable "dagster_db_username" {
  description = "PostgreSQL role of Dagster (DAGSTER_PG_USER)."
  type        = string
  default     = "dagster_app"
}

variable "mlflow_db_username" {
  description = "PostgreSQL role of the MLflow server."
  type        = string
  default     = "mlflow_app"
}

variable "mlflow_admin_username" {
  description = "MLflow auth-app administrator."
  type        = string
  default     = "mlflow-admin"
}

variable "mlflow_pipeline_username" {
  description = "MLflow user of the pipeline (read/write on the registered models)."
  type        = string
  default     = "fraudshield-pipeline"
}

variable "mlflow_scoring_username" {
  description = "MLflow user of the scoring service (read-only)."
  type        = string
  default     = "fraudshield-scoring"
}

variable "versions" {
  description = "Credential -> password version (default 1); raise one by one to rotate that password (db-dagster, db-mlflow, mlflow-admin, mlflow-pipeline, mlflow-scoring, mlflow-flask-secret-key)."
  type        = map(number)
  default     = {}
}
