output "usernames" {
  description = "Credential -> user name (not secret; the secrets hold it too)."
  value       = { for key, credential in local.credentials : key => credential.username }
}

output "dagster_db_secret_arn" {
  description = "Secret of Dagster's PostgreSQL role: DAGSTER_PG_PASSWORD (JSON key password)."
  value       = aws_secretsmanager_secret_version.this["db-dagster"].arn
}

output "mlflow_db_secret_arn" {
  description = "Secret of MLflow's PostgreSQL role."
  value       = aws_secretsmanager_secret_version.this["db-mlflow"].arn
}

output "mlflow_admin_secret_arn" {
  description = "Secret of the MLflow auth-app administrator."
  value       = aws_secretsmanager_secret_version.this["mlflow-admin"].arn
}

output "mlflow_pipeline_secret_arn" {
  description = "Secret of the pipeline's MLflow user: MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD (JSON keys username / password)."
  value       = aws_secretsmanager_secret_version.this["mlflow-pipeline"].arn
}

output "mlflow_scoring_secret_arn" {
  description = "Secret of the scoring service's MLflow user (read-only): its MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD."
  value       = aws_secretsmanager_secret_version.this["mlflow-scoring"].arn
}

output "flask_secret_key_arn" {
  description = "Secret holding MLFLOW_FLASK_SERVER_SECRET_KEY (plain string)."
  value       = aws_secretsmanager_secret_version.flask_secret_key.arn
}

output "kms_key_arn" {
  description = "Key of every credential secret."
  value       = module.kms.arn
}
