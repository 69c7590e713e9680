# Staging: the production design at lower cost and without deletion guards. No secrets here:
# passwords and tokens are generated into Secrets Manager by the deployment itself.
# Replace the placeholder account id, image, certificate, domain and CIDRs with yours.

environment = "staging"
region      = "eu-west-1"
owner       = "fraud-ml"
cost_center = "cc-1234"

image           = "111111111111.dkr.ecr.eu-west-1.amazonaws.com/fraudshield-pipeline:staging"
ui_domain_name  = "dagster.staging.fraudshield.example.com"
certificate_arn = "arn:aws:acm:eu-west-1:111111111111:certificate/00000000-0000-0000-0000-000000000000"
allowed_cidrs   = ["203.0.113.0/24"]

availability_zones = ["eu-west-1a", "eu-west-1b"]
single_nat_gateway = true

training_device              = "cuda"
gpu_instance_type            = "g5.xlarge"
gpu_max_instances            = 1
max_concurrent_runs          = 4
backfill_max_concurrent_runs = 2
run_cpu                      = 1024
run_memory                   = 4096
webserver_desired_count      = 1

db_instance_class        = "db.t4g.medium"
db_allocated_storage     = 20
db_max_allocated_storage = 100
db_multi_az              = false
db_deletion_protection   = false
db_backup_retention_days = 7

cache_node_type = "cache.t4g.small"
cache_multi_az  = false
cache_num_nodes = 1

alb_deletion_protection = false
force_destroy_buckets   = true
log_retention_days      = 90
