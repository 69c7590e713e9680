output "primary_endpoint" {
  description = "Primary endpoint (TLS, AUTH)."
  value       = aws_elasticache_replication_group.this.primary_endpoint_address
}

output "redis_url_secret_arn" {
  description = "Secret holding FRAUDSHIELD_REDIS_URL."
  value       = aws_secretsmanager_secret_version.redis_url.arn
}

output "auth_token_secret_arn" {
  description = "Secret holding the AUTH token alone (for operators and redis-cli)."
  value       = aws_secretsmanager_secret_version.auth_token.arn
}

output "kms_key_arn" {
  description = "Key of the cache and of both secrets."
  value       = module.kms.arn
}
