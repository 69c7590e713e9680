# Production. No secrets here: the database password is generated and kept by RDS in Secrets
# Manager, the Redis AUTH token by the cache module; an OIDC client secret (auth_provider =
# "oidc") is referenced by its Secrets Manager ARN only.
# Replace the placeholder account id, image, certificate, domain and CIDRs with yours.

environment = "prod"
region      = "eu-west-1"
owner       = "fraud-ml"
cost_center = "cc-1234"

image           = "111111111111.dkr.ecr.eu-west-1.amazonaws.com/fraudshield-pipeline:1.0.0"
ui_domain_name  = "dagster.fraudshield.example.com"
certificate_arn = "arn:aws:acm:eu-west-1:111111111111:certificate/00000000-0000-0000-0000-000000000001"
allowed_cidrs   = ["203.0.113.0/24", "198.51.100.0/24"]

availability_zones = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
single_nat_gateway = false

training_device              = "cuda"
gpu_instance_type            = "g5.2xlarge"
gpu_max_instances            = 4
max_concurrent_runs          = 16
backfill_max_concurrent_runs = 8
run_cpu                      = 2048
run_memory                   = 8192
webserver_desired_count      = 2

db_instance_class        = "db.m7g.large"
db_allocated_storage     = 100
db_max_allocated_storage = 1000
db_multi_az              = true
db_deletion_protection   = true
db_backup_retention_days = 30

cache_node_type = "cache.r7g.large"
cache_multi_az  = true
cache_num_nodes = 2

alb_deletion_protection = true
force_destroy_buckets   = false
log_retention_days      = 365
