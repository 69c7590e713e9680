# A customer-managed key administered by the account and used through IAM policies and the
# services' grants; rotation on. Shared by the storage, database and cache modules.

resource "aws_kms_key" "this" {
  description             = var.description
  enable_key_rotation     = true
  deletion_window_in_days = 30

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      # The services (S3, RDS, ElastiCache, Secrets Manager) use the key through grants made
      # with the caller's IAM permissions; task roles get kms:Decrypt / GenerateDataKey on this
      # key only, by IAM policy. "Resource": "*" in a key policy means this key.
      Sid       = "AccountAdministration"
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::${var.account_id}:root" }
      Action    = "kms:*"
      Resource  = "*"
    }]
  })
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.alias}"
  target_key_id = aws_kms_key.this.key_id
}
