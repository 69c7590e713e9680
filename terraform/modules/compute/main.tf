# ECS: one cluster. Fargate services for the Dagster webserver (behind the load balancer), the
# daemon (exactly one), the code location (gRPC) and the MLflow tracking server; runs and steps
# are tasks of the `run` task definition, launched by the EcsRunLauncher (and the ECS executor)
# on Fargate by default or on the GPU capacity provider (gpu.tf) when a step asks for it.

locals {
  cluster_name        = var.name
  cluster_arn         = "arn:aws:ecs:${var.region}:${var.account_id}:cluster/${local.cluster_name}"
  run_family          = "${var.name}-run"
  run_container_name  = "run"
  location_name       = "fraudshield_pipeline"
  code_server_host    = "code-server.${var.service_namespace}"
  mlflow_host         = "mlflow.${var.service_namespace}"
  compute_logs_prefix = "dagster/compute-logs"
  artifacts_bucket    = element(split(":::", var.artifacts_bucket_arn), 1)

  # --- the pipeline's configuration --------------------------------------------------------------
  # Built only from var.pipeline_environment and var.pipeline_secrets, the maps the root module
  # publishes as the outputs pipeline_environment and pipeline_secrets.
  pipeline_environment = [
    for name in sort(keys(var.pipeline_environment)) : {
      name  = name
      value = var.pipeline_environment[name]
    }
  ]
  pipeline_secrets = [
    for name in sort(keys(var.pipeline_secrets)) : {
      name      = name
      valueFrom = contains(keys(var.pipeline_secret_json_keys), name) ? "${var.pipeline_secrets[name]}:${var.pipeline_secret_json_keys[name]}::" : var.pipeline_secrets[name]
    }
  ]
  # The webserver and the daemon never call MLflow: they do not get the pipeline's MLflow user.
  dagster_secrets = [for s in local.pipeline_secrets : s if !startswith(s.name, "MLFLOW_")]

  # The MLflow server and the database bootstrap have their own database roles and secrets; the
  # bootstrap task is the only one that gets the RDS master user.
  mlflow_environment = [for name in sort(keys(var.mlflow_environment)) : { name = name, value = var.mlflow_environment[name] }]
  mlflow_secrets = [
    for name in sort(keys(var.mlflow_secrets)) : {
      name      = name
      valueFrom = var.mlflow_secrets[name].json_key == null ? var.mlflow_secrets[name].arn : "${var.mlflow_secrets[name].arn}:${var.mlflow_secrets[name].json_key}::"
    }
  ]
  db_bootstrap_environment = [for name in sort(keys(var.db_bootstrap_environment)) : { name = name, value = var.db_bootstrap_environment[name] }]
  db_bootstrap_secrets = [
    for name in sort(keys(var.db_bootstrap_secrets)) : {
      name      = name
      valueFrom = var.db_bootstrap_secrets[name].json_key == null ? var.db_bootstrap_secrets[name].arn : "${var.db_bootstrap_secrets[name].arn}:${var.db_bootstrap_secrets[name].json_key}::"
    }
  ]
  secret_arns = distinct(concat(
    [for name in sort(keys(var.pipeline_secrets)) : var.pipeline_secrets[name]],
    [for name in sort(keys(var.mlflow_secrets)) : var.mlflow_secrets[name].arn],
    [for name in sort(keys(var.db_bootstrap_secrets)) : var.db_bootstrap_secrets[name].arn],
  ))

  # Root filesystems are read-only; /tmp is a writable per-task volume.
  scratch_environment = [
    { name = "HOME", value = "/tmp" },
    { name = "TMPDIR", value = "/tmp" },
    { name = "MPLCONFIGDIR", value = "/tmp/matplotlib" },
    { name = "FRAUDSHIELD_DATA_DIR", value = "/tmp/fraudshield" },
  ]

  # --- the Dagster instance ------------------------------------------------------------------------
  instance_yaml = templatefile("${path.module}/templates/dagster.yaml.tftpl", {
    run_task_definition          = aws_ecs_task_definition.run.arn
    run_container_name           = local.run_container_name
    cluster                      = local.cluster_name
    subnets                      = jsonencode(var.private_subnet_ids)
    security_groups              = jsonencode([var.app_security_group_id])
    max_concurrent_runs          = var.max_concurrent_runs
    backfill_max_concurrent_runs = var.backfill_max_concurrent_runs
    compute_logs_bucket          = local.artifacts_bucket
    compute_logs_prefix          = local.compute_logs_prefix
  })
  workspace_yaml = templatefile("${path.module}/templates/workspace.yaml.tftpl", {
    host          = local.code_server_host
    port          = var.ports.code_server
    location_name = local.location_name
  })
  dagster_config_environment = [
    { name = "DAGSTER_HOME", value = "/tmp/dagster_home" },
    { name = "DAGSTER_INSTANCE_YAML", value = local.instance_yaml },
    { name = "DAGSTER_WORKSPACE_YAML", value = local.workspace_yaml },
  ]
  write_dagster_config = "mkdir -p \"$DAGSTER_HOME\" && printf '%s\\n' \"$DAGSTER_INSTANCE_YAML\" > \"$DAGSTER_HOME/dagster.yaml\" && printf '%s\\n' \"$DAGSTER_WORKSPACE_YAML\" > \"$DAGSTER_HOME/workspace.yaml\""

  # Dagster's containers log in as DAGSTER_PG_*, MLflow's as MLFLOW_DB_* (and answer on /health).
  dagster_db   = { host = "DAGSTER_PG_HOST", port = "DAGSTER_PG_PORT", database = "DAGSTER_PG_DB", user = "DAGSTER_PG_USER", password = "DAGSTER_PG_PASSWORD" } # pragma: allowlist secret (variable names)
  mlflow_db    = { host = "MLFLOW_DB_HOST", port = "MLFLOW_DB_PORT", database = "MLFLOW_DB_NAME", user = "MLFLOW_DB_USER", password = "MLFLOW_DB_PASSWORD" }    # pragma: allowlist secret (variable names)
  health_check = templatefile("${path.module}/templates/health_check.py.tftpl", { grpc_port = 0, http_port = 0, db = local.dagster_db })

  # --- services ------------------------------------------------------------------------------------
  services = {
    webserver = {
      image         = var.image
      cpu           = 1024
      memory        = 4096
      desired_count = var.webserver_desired_count
      min_healthy   = 50
      max_percent   = 200
      port          = var.ports.webserver
      command       = ["sh", "-c", "${local.write_dagster_config} && exec dagster-webserver -h 0.0.0.0 -p ${var.ports.webserver} -w \"$DAGSTER_HOME/workspace.yaml\""]
      environment   = concat(local.pipeline_environment, local.scratch_environment, local.dagster_config_environment)
      secrets       = local.dagster_secrets
      health_check  = local.health_check
    }
    # Exactly one daemon: a deployment stops the old task before starting the new one.
    daemon = {
      image         = var.image
      cpu           = 1024
      memory        = 4096
      desired_count = 1
      min_healthy   = 0
      max_percent   = 100
      port          = 0
      command       = ["sh", "-c", "${local.write_dagster_config} && exec dagster-daemon run -w \"$DAGSTER_HOME/workspace.yaml\""]
      environment   = concat(local.pipeline_environment, local.scratch_environment, local.dagster_config_environment)
      secrets       = local.dagster_secrets
      health_check  = local.health_check
    }
    code-server = {
      image         = var.image
      cpu           = 1024
      memory        = 4096
      desired_count = 1
      min_healthy   = 100
      max_percent   = 200
      port          = var.ports.code_server
      command       = ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", tostring(var.ports.code_server), "-m", "fraudshield_pipeline.definitions", "--location-name", local.location_name]
      environment   = concat(local.pipeline_environment, local.scratch_environment, [{ name = "DAGSTER_CURRENT_IMAGE", value = var.image }])
      secrets       = local.pipeline_secrets
      health_check  = templatefile("${path.module}/templates/health_check.py.tftpl", { grpc_port = var.ports.code_server, http_port = 0, db = local.dagster_db })
    }
    mlflow = {
      image         = var.mlflow_image
      cpu           = 1024
      memory        = 2048
      desired_count = 1
      min_healthy   = 100
      max_percent   = 200
      port          = var.ports.mlflow
      command       = ["python", "-c", file("${path.module}/templates/mlflow_server.py")]
      # Of the pipeline's variables only the non-secret ones (the artifact location); its own
      # database role, users and auth app configuration come from mlflow_environment / _secrets.
      environment = concat(local.pipeline_environment, local.scratch_environment, local.mlflow_environment, [
        { name = "MLFLOW_PORT", value = tostring(var.ports.mlflow) },
        { name = "MLFLOW_SERVER_ALLOWED_HOSTS", value = "${local.mlflow_host},${local.mlflow_host}:${var.ports.mlflow},localhost,localhost:${var.ports.mlflow},127.0.0.1:${var.ports.mlflow}" },
      ])
      secrets      = local.mlflow_secrets
      health_check = templatefile("${path.module}/templates/health_check.py.tftpl", { grpc_port = 0, http_port = var.ports.mlflow, db = local.mlflow_db })
    }
  }

  log_groups = ["webserver", "daemon", "code-server", "mlflow", "run", "db-bootstrap", "ecs-exec"]
}

# --- logs ------------------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "this" {
  for_each = toset(local.log_groups)

  name              = "/${var.name}/ecs/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.logs_kms_key_arn
}

# --- cluster ---------------------------------------------------------------------------------------

resource "aws_ecs_cluster" "this" {
  name = local.cluster_name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  configuration {
    execute_command_configuration {
      kms_key_id = var.logs_kms_key_arn
      logging    = "OVERRIDE"

      log_configuration {
        cloud_watch_encryption_enabled = true
        cloud_watch_log_group_name     = aws_cloudwatch_log_group.this["ecs-exec"].name
      }
    }
  }
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE", "FARGATE_SPOT", aws_ecs_capacity_provider.gpu.name]

  # Services, runs and steps land on Fargate unless they name another capacity provider.
  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}

# --- service discovery (code server and MLflow) ------------------------------------------------------

resource "aws_service_discovery_private_dns_namespace" "this" {
  name        = var.service_namespace
  description = "${var.name} internal services"
  vpc         = var.vpc_id
}

resource "aws_service_discovery_service" "this" {
  for_each = toset(["code-server", "mlflow"])

  name = each.key

  dns_config {
    namespace_id   = aws_service_discovery_private_dns_namespace.this.id
    routing_policy = "MULTIVALUE"

    dns_records {
      ttl  = 10
      type = "A"
    }
  }

  health_check_custom_config {
    failure_threshold = 1
  }
}

# --- task definitions --------------------------------------------------------------------------------

resource "aws_ecs_task_definition" "service" {
  for_each = local.services

  family                   = "${var.name}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = each.value.cpu
  memory                   = each.value.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task[each.key].arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  volume {
    name = "scratch"
  }

  container_definitions = jsonencode([{
    name                   = each.key
    image                  = each.value.image
    essential              = true
    command                = each.value.command
    environment            = each.value.environment
    secrets                = each.value.secrets
    portMappings           = [for p in(each.value.port > 0 ? [each.value.port] : []) : { containerPort = p, protocol = "tcp" }]
    readonlyRootFilesystem = true
    privileged             = false
    mountPoints            = [{ sourceVolume = "scratch", containerPath = "/tmp", readOnly = false }]
    linuxParameters        = { initProcessEnabled = true }
    stopTimeout            = 60
    healthCheck = {
      command     = ["CMD", "python", "-c", each.value.health_check]
      interval    = 60
      timeout     = 30
      retries     = 3
      startPeriod = 180
    }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.this[each.key].name
        awslogs-region        = var.region
        awslogs-stream-prefix = each.key
        mode                  = "non-blocking"
        max-buffer-size       = "8m"
      }
    }
  }])
}

# Runs and steps. Fargate by default; EC2-compatible too, so a step can run on the GPU capacity
# provider with a GPU resource requirement in its container overrides. Earlier revisions are kept
# (skip_destroy) so that runs in flight can still launch their steps after an apply.
resource "aws_ecs_task_definition" "run" {
  family                   = local.run_family
  requires_compatibilities = ["FARGATE", "EC2"]
  network_mode             = "awsvpc"
  cpu                      = var.run_cpu
  memory                   = var.run_memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task["run"].arn
  skip_destroy             = true

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  volume {
    name = "scratch"
  }

  container_definitions = jsonencode([{
    name                   = local.run_container_name
    image                  = var.image
    essential              = true
    environment            = concat(local.pipeline_environment, local.scratch_environment)
    secrets                = local.pipeline_secrets
    readonlyRootFilesystem = true
    privileged             = false
    mountPoints            = [{ sourceVolume = "scratch", containerPath = "/tmp", readOnly = false }]
    linuxParameters        = { initProcessEnabled = true }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.this["run"].name
        awslogs-region        = var.region
        awslogs-stream-prefix = "run"
        mode                  = "non-blocking"
        max-buffer-size       = "8m"
      }
    }
  }])
}

# The database bootstrap: a one-off task, run after the first apply and after every rotation of
# a database role's password (terraform/README.md, "Credentials"). It is the only task that gets
# the RDS master user; it creates the roles of Dagster and MLflow and their databases, sets their
# passwords from Secrets Manager and exits. No task role: it calls no AWS API.
resource "aws_ecs_task_definition" "db_bootstrap" {
  family                   = "${var.name}-db-bootstrap"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 256
  memory                   = 512
  execution_role_arn       = aws_iam_role.execution.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  volume {
    name = "scratch"
  }

  container_definitions = jsonencode([{
    name                   = "db-bootstrap"
    image                  = var.image
    essential              = true
    command                = ["python", "-c", file("${path.module}/templates/db_bootstrap.py")]
    environment            = concat(local.db_bootstrap_environment, local.scratch_environment)
    secrets                = local.db_bootstrap_secrets
    readonlyRootFilesystem = true
    privileged             = false
    mountPoints            = [{ sourceVolume = "scratch", containerPath = "/tmp", readOnly = false }]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.this["db-bootstrap"].name
        awslogs-region        = var.region
        awslogs-stream-prefix = "db-bootstrap"
      }
    }
  }])
}

# --- services --------------------------------------------------------------------------------------------

resource "aws_ecs_service" "this" {
  for_each = local.services

  name             = each.key
  cluster          = aws_ecs_cluster.this.id
  task_definition  = aws_ecs_task_definition.service[each.key].arn
  desired_count    = each.value.desired_count
  platform_version = "LATEST"

  capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }

  deployment_minimum_healthy_percent = each.value.min_healthy
  deployment_maximum_percent         = each.value.max_percent
  health_check_grace_period_seconds  = each.key == "webserver" ? 180 : null

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  enable_ecs_managed_tags = true
  propagate_tags          = "SERVICE"
  enable_execute_command  = false

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [var.app_security_group_id]
    assign_public_ip = false
  }

  dynamic "load_balancer" {
    for_each = each.key == "webserver" ? [var.webserver_target_group] : []
    content {
      target_group_arn = load_balancer.value
      container_name   = each.key
      container_port   = each.value.port
    }
  }

  dynamic "service_registries" {
    for_each = contains(["code-server", "mlflow"], each.key) ? [aws_service_discovery_service.this[each.key].arn] : []
    content {
      registry_arn = service_registries.value
    }
  }

  depends_on = [aws_ecs_cluster_capacity_providers.this, aws_iam_role_policy.execution]
}
