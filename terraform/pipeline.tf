# The pipeline's production profile, in one place. `fraudshield_pipeline/resources/profiles.py`
# lists what it reads (PRODUCTION_ENV_VARS); the secret ones (SECRET_ENV_VARS) are never values
# here, only the ARNs of the Secrets Manager secrets that hold them. The compute module builds
# every task definition's `environment` and `secrets` from these two maps, and outputs.tf
# publishes the same maps, so the names cannot drift (fraudshield_pipeline_tests/test_terraform.py
# checks both against profiles.py).

locals {
  name              = "${var.project}-${var.environment}"
  service_namespace = "${local.name}.internal"
  mlflow_port       = 5000

  # PRODUCTION_ENV_VARS minus SECRET_ENV_VARS -> the value every ECS task gets.
  pipeline_environment = {
    FRAUDSHIELD_STORAGE                  = "s3"
    FRAUDSHIELD_S3_BUCKET                = module.storage.data_bucket_name
    FRAUDSHIELD_S3_PREFIX                = var.s3_prefix
    AWS_DEFAULT_REGION                   = var.region
    MLFLOW_TRACKING_URI                  = "http://mlflow.${local.service_namespace}:${local.mlflow_port}"
    FRAUDSHIELD_MLFLOW_ARTIFACT_LOCATION = "s3://${module.storage.artifacts_bucket_name}/mlflow"
    FRAUDSHIELD_ONLINE_STORE             = "redis"
    FRAUDSHIELD_FEAST_REGISTRY           = "s3://${module.storage.data_bucket_name}/${var.s3_prefix}/feast/registry.pb"
    FRAUDSHIELD_TRAINING_DEVICE          = var.training_device
    FRAUDSHIELD_GPU_CAPACITY_PROVIDER    = module.compute.gpu_capacity_provider
    DAGSTER_PG_HOST                      = module.database.address
    DAGSTER_PG_PORT                      = tostring(module.database.port)
    DAGSTER_PG_DB                        = module.database.db_name
    DAGSTER_PG_USER                      = module.database.username
  }

  # SECRET_ENV_VARS -> ARN of the Secrets Manager secret holding the value.
  pipeline_secrets = {
    FRAUDSHIELD_REDIS_URL = module.cache.redis_url_secret_arn
    DAGSTER_PG_PASSWORD   = module.database.master_user_secret_arn
  }

  # Secrets stored as JSON: the key ECS extracts (`<arn>:<key>::`). RDS keeps its managed
  # master password as {"username": ..., "password": ...}.
  pipeline_secret_json_keys = {
    DAGSTER_PG_PASSWORD = "password"
  }
}
