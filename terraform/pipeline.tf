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
    DAGSTER_PG_USER                      = module.credentials.usernames["db-dagster"]
  }

  # SECRET_ENV_VARS -> ARN of the Secrets Manager secret holding the value.
  # Dagster's own PostgreSQL role and the pipeline's MLflow user (read/write on the registered
  # models), never the RDS master user (modules/credentials).
  pipeline_secrets = {
    FRAUDSHIELD_REDIS_URL    = module.cache.redis_url_secret_arn
    DAGSTER_PG_PASSWORD      = module.credentials.dagster_db_secret_arn
    MLFLOW_TRACKING_USERNAME = module.credentials.mlflow_pipeline_secret_arn
    MLFLOW_TRACKING_PASSWORD = module.credentials.mlflow_pipeline_secret_arn
  }

  # Secrets stored as JSON {"username": ..., "password": ...}: the key ECS extracts (`<arn>:<key>::`).
  pipeline_secret_json_keys = {
    DAGSTER_PG_PASSWORD      = "password"
    MLFLOW_TRACKING_USERNAME = "username"
    MLFLOW_TRACKING_PASSWORD = "password"
  }

  # --- the MLflow server and the database bootstrap: their own variables, not the pipeline's ------
  # variable -> { arn, json_key } (json_key null: the whole secret string).
  mlflow_database = {
    MLFLOW_DB_HOST      = module.database.address
    MLFLOW_DB_PORT      = tostring(module.database.port)
    MLFLOW_DB_NAME      = "mlflow"
    MLFLOW_AUTH_DB_NAME = "mlflow_auth"
  }
  mlflow_server_environment = merge(local.mlflow_database, {
    MLFLOW_DB_USER                       = module.credentials.usernames["db-mlflow"]
    MLFLOW_AUTH_ADMIN_USERNAME           = module.credentials.usernames["mlflow-admin"]
    FRAUDSHIELD_MLFLOW_PIPELINE_USERNAME = module.credentials.usernames["mlflow-pipeline"]
    FRAUDSHIELD_MLFLOW_SCORING_USERNAME  = module.credentials.usernames["mlflow-scoring"]
    FRAUDSHIELD_MLFLOW_MODELS            = join(",", var.mlflow_registered_models)
  })
  mlflow_server_secrets = {
    MLFLOW_DB_PASSWORD                   = { arn = module.credentials.mlflow_db_secret_arn, json_key = "password" }
    MLFLOW_AUTH_ADMIN_PASSWORD           = { arn = module.credentials.mlflow_admin_secret_arn, json_key = "password" }
    FRAUDSHIELD_MLFLOW_PIPELINE_PASSWORD = { arn = module.credentials.mlflow_pipeline_secret_arn, json_key = "password" }
    FRAUDSHIELD_MLFLOW_SCORING_PASSWORD  = { arn = module.credentials.mlflow_scoring_secret_arn, json_key = "password" }
    MLFLOW_FLASK_SERVER_SECRET_KEY       = { arn = module.credentials.flask_secret_key_arn, json_key = null }
  }

  # The only task that gets the RDS master user: it creates the two roles and their databases.
  db_bootstrap_environment = merge(local.mlflow_database, {
    DB_HOST             = module.database.address
    DB_PORT             = tostring(module.database.port)
    DAGSTER_DB_NAME     = module.database.db_name
    DAGSTER_DB_USERNAME = module.credentials.usernames["db-dagster"]
    MLFLOW_DB_USERNAME  = module.credentials.usernames["db-mlflow"]
  })
  db_bootstrap_secrets = {
    DB_MASTER_USERNAME  = { arn = module.database.master_user_secret_arn, json_key = "username" }
    DB_MASTER_PASSWORD  = { arn = module.database.master_user_secret_arn, json_key = "password" }
    DAGSTER_DB_PASSWORD = { arn = module.credentials.dagster_db_secret_arn, json_key = "password" }
    MLFLOW_DB_PASSWORD  = { arn = module.credentials.mlflow_db_secret_arn, json_key = "password" }
  }
}
