output "kms_key_arn" {
  description = "KMS key for CloudWatch log groups."
  value       = aws_kms_key.logs.arn
}
