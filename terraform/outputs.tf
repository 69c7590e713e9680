# What the pipeline's containers get (and what you export to run the production profile
# elsewhere, e.g. a laptop on the VPN): see README.md, "Outputs -> environment variables".

output "pipeline_environment" {
  description = "Non-secret pipeline environment variables (PRODUCTION_ENV_VARS minus SECRET_ENV_VARS) with the values the ECS tasks get."
  value       = local.pipeline_environment
}

output "pipeline_secrets" {
  description = "Each secret pipeline variable (SECRET_ENV_VARS) -> ARN of the Secrets Manager secret that holds it."
  value       = local.pipeline_secrets
}

output "pipeline_secret_json_keys" {
  description = "Secrets stored as JSON -> the key holding the value (ECS valueFrom `<arn>:<key>::`)."
  value       = local.pipeline_secret_json_keys
}

output "ui_url" {
  description = "The Dagster UI (behind the load balancer's authentication)."
  value       = module.edge.ui_url
}

output "alb_dns_name" {
  description = "Load balancer DNS name (CNAME/alias target for ui_domain_name)."
  value       = module.edge.alb_dns_name
}

output "cognito_user_pool_id" {
  description = "User pool to create UI users in (auth_provider = cognito), else null."
  value       = module.edge.cognito_user_pool_id
}

output "ecs_cluster_name" {
  description = "ECS cluster running the services, runs and steps."
  value       = module.compute.cluster_name
}

output "run_task_definition_arn" {
  description = "Task definition the EcsRunLauncher and the ECS executor launch runs and steps from."
  value       = module.compute.run_task_definition_arn
}

output "gpu_capacity_provider" {
  description = "Capacity provider of the GPU Auto Scaling group (min 0): the training step's ecs/run_task_kwargs names it."
  value       = module.compute.gpu_capacity_provider
}

output "buckets" {
  description = "S3 buckets by role."
  value = {
    data      = module.storage.data_bucket_name
    artifacts = module.storage.artifacts_bucket_name
    reports   = module.storage.reports_bucket_name
    logs      = module.storage.logs_bucket_name
  }
}

output "database_endpoint" {
  description = "RDS PostgreSQL endpoint (private)."
  value       = "${module.database.address}:${module.database.port}"
}

output "mlflow_credentials" {
  description = "MLflow users -> ARN of the Secrets Manager secret (JSON username / password) holding them: pipeline (EDIT on the registered models, given to runs), scoring (READ: pass it to the scoring service as MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD), admin (operators)."
  value = {
    pipeline = module.credentials.mlflow_pipeline_secret_arn
    scoring  = module.credentials.mlflow_scoring_secret_arn
    admin    = module.credentials.mlflow_admin_secret_arn
  }
}

output "db_bootstrap_command" {
  description = "Runs the database bootstrap task (roles of Dagster and MLflow, their databases and passwords): after the first apply and after rotating a database role's password."
  value = join(" ", [
    "aws ecs run-task --cluster ${module.compute.cluster_name} --launch-type FARGATE",
    "--task-definition ${module.compute.db_bootstrap_task_definition_arn}",
    "--network-configuration 'awsvpcConfiguration={subnets=[${join(",", module.network.private_subnet_ids)}],securityGroups=[${module.network.app_security_group_id}],assignPublicIp=DISABLED}'",
  ])
}
