data "aws_caller_identity" "current" {}

locals {
  # Container ports, shared by the security groups (network), the target group (edge) and the
  # services (compute).
  ports = {
    webserver   = 3000
    code_server = 4000
    mlflow      = local.mlflow_port
  }
}

module "logging" {
  source = "./modules/logging"

  name       = local.name
  region     = var.region
  account_id = data.aws_caller_identity.current.account_id
}

module "network" {
  source = "./modules/network"

  name               = local.name
  vpc_cidr           = var.vpc_cidr
  availability_zones = var.availability_zones
  single_nat_gateway = var.single_nat_gateway
  allowed_cidrs      = var.allowed_cidrs
  ports              = local.ports
  logs_kms_key_arn   = module.logging.kms_key_arn
  log_retention_days = var.log_retention_days
}

module "storage" {
  source = "./modules/storage"

  name                               = local.name
  account_id                         = data.aws_caller_identity.current.account_id
  force_destroy                      = var.force_destroy_buckets
  noncurrent_version_expiration_days = var.noncurrent_version_expiration_days
}

module "database" {
  source = "./modules/database"

  name                  = local.name
  subnet_ids            = module.network.private_subnet_ids
  security_group_id     = module.network.database_security_group_id
  instance_class        = var.db_instance_class
  engine_version        = var.db_engine_version
  allocated_storage     = var.db_allocated_storage
  max_allocated_storage = var.db_max_allocated_storage
  multi_az              = var.db_multi_az
  deletion_protection   = var.db_deletion_protection
  backup_retention_days = var.db_backup_retention_days
  account_id            = data.aws_caller_identity.current.account_id
  logs_kms_key_arn      = module.logging.kms_key_arn
  log_retention_days    = var.log_retention_days
}

module "credentials" {
  source = "./modules/credentials"

  name       = local.name
  account_id = data.aws_caller_identity.current.account_id
  versions   = var.credential_versions
}

module "cache" {
  source = "./modules/cache"

  name               = local.name
  subnet_ids         = module.network.private_subnet_ids
  security_group_id  = module.network.cache_security_group_id
  node_type          = var.cache_node_type
  multi_az           = var.cache_multi_az
  num_nodes          = var.cache_num_nodes
  auth_token_version = var.redis_auth_token_version
  account_id         = data.aws_caller_identity.current.account_id
  logs_kms_key_arn   = module.logging.kms_key_arn
  log_retention_days = var.log_retention_days
}

module "edge" {
  source = "./modules/edge"

  name                  = local.name
  vpc_id                = module.network.vpc_id
  public_subnet_ids     = module.network.public_subnet_ids
  security_group_id     = module.network.alb_security_group_id
  certificate_arn       = var.certificate_arn
  ui_domain_name        = var.ui_domain_name
  route53_zone_id       = var.route53_zone_id
  auth_provider         = var.auth_provider
  oidc                  = var.oidc
  access_log_bucket     = module.storage.logs_bucket_name
  deletion_protection   = var.alb_deletion_protection
  account_id            = data.aws_caller_identity.current.account_id
  logs_kms_key_arn      = module.logging.kms_key_arn
  log_retention_days    = var.log_retention_days
  webserver_port        = local.ports.webserver
  webserver_health_path = "/server_info"
}

module "compute" {
  source = "./modules/compute"

  name       = local.name
  region     = var.region
  account_id = data.aws_caller_identity.current.account_id

  vpc_id                 = module.network.vpc_id
  private_subnet_ids     = module.network.private_subnet_ids
  app_security_group_id  = module.network.app_security_group_id
  service_namespace      = local.service_namespace
  ports                  = local.ports
  webserver_target_group = module.edge.target_group_arn

  image        = var.image
  mlflow_image = coalesce(var.mlflow_image, var.image)

  # The same maps as the outputs pipeline_environment / pipeline_secrets.
  pipeline_environment      = local.pipeline_environment
  pipeline_secrets          = local.pipeline_secrets
  pipeline_secret_json_keys = local.pipeline_secret_json_keys
  secrets_kms_key_arns      = [module.database.kms_key_arn, module.cache.kms_key_arn, module.credentials.kms_key_arn]

  # The MLflow server (basic-auth app) and the one-off database bootstrap task.
  mlflow_environment       = local.mlflow_server_environment
  mlflow_secrets           = local.mlflow_server_secrets
  db_bootstrap_environment = local.db_bootstrap_environment
  db_bootstrap_secrets     = local.db_bootstrap_secrets

  storage_kms_key_arn  = module.storage.kms_key_arn
  data_bucket_arn      = module.storage.data_bucket_arn
  data_prefix          = var.s3_prefix
  artifacts_bucket_arn = module.storage.artifacts_bucket_arn
  reports_bucket_arn   = module.storage.reports_bucket_arn

  run_cpu                      = var.run_cpu
  run_memory                   = var.run_memory
  webserver_desired_count      = var.webserver_desired_count
  max_concurrent_runs          = var.max_concurrent_runs
  backfill_max_concurrent_runs = var.backfill_max_concurrent_runs

  gpu_instance_type = var.gpu_instance_type
  gpu_max_instances = var.gpu_max_instances

  logs_kms_key_arn   = module.logging.kms_key_arn
  log_retention_days = var.log_retention_days
}
