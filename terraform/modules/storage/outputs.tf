output "kms_key_arn" {
  description = "KMS key of the data, artifacts and reports buckets."
  value       = module.kms.arn
}

output "data_bucket_name" {
  description = "FRAUDSHIELD_S3_BUCKET: tables, reports, Feast offline source."
  value       = aws_s3_bucket.this["data"].id
}

output "data_bucket_arn" {
  description = "ARN of the data bucket."
  value       = aws_s3_bucket.this["data"].arn
}

output "artifacts_bucket_name" {
  description = "MLflow artifacts (mlflow/) and Dagster compute logs (dagster/)."
  value       = aws_s3_bucket.this["artifacts"].id
}

output "artifacts_bucket_arn" {
  description = "ARN of the artifacts bucket."
  value       = aws_s3_bucket.this["artifacts"].arn
}

output "reports_bucket_name" {
  description = "Published reports."
  value       = aws_s3_bucket.this["reports"].id
}

output "reports_bucket_arn" {
  description = "ARN of the reports bucket."
  value       = aws_s3_bucket.this["reports"].arn
}

output "logs_bucket_name" {
  description = "Access-log bucket (S3 access logs under s3-access/, ALB logs under alb/)."
  value       = aws_s3_bucket.logs.id
}
