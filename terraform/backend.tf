# Remote state: S3 (versioned, encrypted) with a DynamoDB lock table. Partial configuration:
# the bucket, key, table and region come from environments/<env>.s3.tfbackend, so the same
# code serves every environment:
#
#   terraform init -reconfigure -backend-config=environments/prod.s3.tfbackend
#
# The state holds the Redis AUTH token (ElastiCache has no write-only argument for it) and
# resource ARNs: keep the state bucket private, encrypted and access-logged.
terraform {
  backend "s3" {}
}
