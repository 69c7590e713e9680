output "address" {
  description = "DAGSTER_PG_HOST."
  value       = aws_db_instance.this.address
}

output "port" {
  description = "DAGSTER_PG_PORT."
  value       = aws_db_instance.this.port
}

output "db_name" {
  description = "DAGSTER_PG_DB."
  value       = aws_db_instance.this.db_name
}

output "username" {
  description = "DAGSTER_PG_USER."
  value       = aws_db_instance.this.username
}

output "master_user_secret_arn" {
  description = "Secrets Manager secret (JSON username/password) RDS keeps the master password in: DAGSTER_PG_PASSWORD."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}

output "kms_key_arn" {
  description = "Key of the storage and of the master password secret."
  value       = module.kms.arn
}
