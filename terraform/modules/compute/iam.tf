# Least privilege: one execution role (image pull, logs, the pipeline's secrets) and one task
# role per service, each scoped to the buckets / prefixes, tasks and keys it uses. `*` appears
# only where the action has no resource-level permissions, each marked so.
#
# Object actions are scoped to prefixes; s3:ListBucket is granted on the bucket without a
# prefix condition on purpose: S3 answers a GET of a missing key with 404 only to callers that
# may list the bucket (else 403), and the pipeline's storage (NoSuchKey -> FileNotFoundError)
# and Dagster's compute-log manager rely on the 404.

locals {
  task_arn_pattern = "arn:aws:ecs:${var.region}:${var.account_id}:task/${local.cluster_name}/*"
  run_family_arn   = "arn:aws:ecs:${var.region}:${var.account_id}:task-definition/${local.run_family}:*"
  data_objects     = "${var.data_bucket_arn}/${var.data_prefix}/*"
  mlflow_objects   = "${var.artifacts_bucket_arn}/mlflow/*"
  log_objects      = "${var.artifacts_bucket_arn}/${local.compute_logs_prefix}/*"

  ecr_image_pattern = "^([0-9]{12})\\.dkr\\.ecr\\.([a-z0-9-]+)\\.amazonaws\\.com/([^:@]+)"
  ecr_repository_arns = distinct([
    for image in [var.image, var.mlflow_image] :
    format("arn:aws:ecr:%s:%s:repository/%s", regex(local.ecr_image_pattern, image)[1], regex(local.ecr_image_pattern, image)[0], regex(local.ecr_image_pattern, image)[2])
    if can(regex(local.ecr_image_pattern, image))
  ])

  # --- reusable statements ----------------------------------------------------------------------
  kms_storage = {
    Sid       = "UseStorageKey"
    Effect    = "Allow"
    Action    = ["kms:Decrypt", "kms:GenerateDataKey"]
    Resource  = [var.storage_kms_key_arn]
    Condition = { StringEquals = { "kms:ViaService" = "s3.${var.region}.amazonaws.com" } }
  }
  kms_storage_read = merge(local.kms_storage, { Sid = "ReadWithStorageKey", Action = ["kms:Decrypt"] })

  object_rw = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]

  # Launch, watch and stop run/step tasks of the run task definition (EcsRunLauncher, ECS executor).
  launch_runs = [
    {
      Sid       = "RunRunTasks"
      Effect    = "Allow"
      Action    = ["ecs:RunTask"]
      Resource  = [local.run_family_arn]
      Condition = { ArnEquals = { "ecs:cluster" = local.cluster_arn } }
    },
    {
      Sid      = "WatchRunTasks"
      Effect   = "Allow"
      Action   = ["ecs:DescribeTasks", "ecs:StopTask"]
      Resource = [local.task_arn_pattern]
    },
    {
      Sid       = "TagRunTasksAtLaunch"
      Effect    = "Allow"
      Action    = ["ecs:TagResource"]
      Resource  = [local.task_arn_pattern]
      Condition = { StringEquals = { "ecs:CreateAction" = "RunTask" } }
    },
    {
      # AWS: ecs:DescribeTaskDefinition has no resource-level permissions ("*" required).
      Sid      = "DescribeTaskDefinitions"
      Effect   = "Allow"
      Action   = ["ecs:DescribeTaskDefinition"]
      Resource = ["*"]
    },
    {
      Sid       = "PassRunRoles"
      Effect    = "Allow"
      Action    = ["iam:PassRole"]
      Resource  = [aws_iam_role.task["run"].arn, aws_iam_role.execution.arn]
      Condition = { StringEquals = { "iam:PassedToService" = "ecs-tasks.amazonaws.com" } }
    },
    {
      Sid      = "ReadRunLogs"
      Effect   = "Allow"
      Action   = ["logs:GetLogEvents"]
      Resource = ["${aws_cloudwatch_log_group.this["run"].arn}:*"]
    },
  ]

  task_policies = {
    # UI: reads compute logs, terminates runs.
    webserver = concat([
      {
        Sid      = "ListComputeLogs"
        Effect   = "Allow"
        Action   = ["s3:ListBucket"]
        Resource = [var.artifacts_bucket_arn]
      },
      {
        Sid      = "ReadComputeLogs"
        Effect   = "Allow"
        Action   = ["s3:GetObject"]
        Resource = [local.log_objects]
      },
      local.kms_storage_read,
    ], [for s in local.launch_runs : s if s.Sid != "RunRunTasks" && s.Sid != "TagRunTasksAtLaunch" && s.Sid != "PassRunRoles"])

    # Run queue, launcher, run monitoring, schedules and sensors (evaluated by the code server).
    daemon = local.launch_runs

    # Sensors and schedules evaluated here may read the pipeline's tables.
    code-server = [
      {
        Sid      = "ListPipelineData"
        Effect   = "Allow"
        Action   = ["s3:ListBucket"]
        Resource = [var.data_bucket_arn]
      },
      {
        Sid      = "ReadPipelineData"
        Effect   = "Allow"
        Action   = ["s3:GetObject"]
        Resource = [local.data_objects]
      },
      local.kms_storage_read,
    ]

    # Runs and steps: the pipeline's tables, MLflow artifacts, reports, compute logs; the ECS
    # executor launches the run's steps as tasks.
    run = concat([
      {
        Sid      = "ListPipelineData"
        Effect   = "Allow"
        Action   = ["s3:ListBucket", "s3:ListBucketMultipartUploads"]
        Resource = [var.data_bucket_arn]
      },
      {
        Sid      = "ReadWritePipelineData"
        Effect   = "Allow"
        Action   = local.object_rw
        Resource = [local.data_objects]
      },
      {
        Sid      = "ListArtifacts"
        Effect   = "Allow"
        Action   = ["s3:ListBucket", "s3:ListBucketMultipartUploads"]
        Resource = [var.artifacts_bucket_arn]
      },
      {
        Sid      = "ReadWriteModelArtifacts"
        Effect   = "Allow"
        Action   = local.object_rw
        Resource = [local.mlflow_objects]
      },
      {
        Sid      = "WriteComputeLogs"
        Effect   = "Allow"
        Action   = ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"]
        Resource = [local.log_objects]
      },
      {
        Sid      = "ListReports"
        Effect   = "Allow"
        Action   = ["s3:ListBucket"]
        Resource = [var.reports_bucket_arn]
      },
      {
        Sid      = "ReadWriteReports"
        Effect   = "Allow"
        Action   = local.object_rw
        Resource = ["${var.reports_bucket_arn}/*"]
      },
      local.kms_storage,
    ], local.launch_runs)

    # Tracking server: serves and deletes model artifacts.
    mlflow = [
      {
        Sid      = "ListArtifacts"
        Effect   = "Allow"
        Action   = ["s3:ListBucket"]
        Resource = [var.artifacts_bucket_arn]
      },
      {
        Sid      = "ReadWriteModelArtifacts"
        Effect   = "Allow"
        Action   = local.object_rw
        Resource = [local.mlflow_objects]
      },
      local.kms_storage,
    ]
  }
}

data "aws_iam_policy_document" "ecs_tasks_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [var.account_id]
    }
  }
}

# --- execution role (ECS agent: pull the image, ship logs, inject secrets) ---------------------------

resource "aws_iam_role" "execution" {
  name               = "${var.name}-ecs-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_trust.json
}

resource "aws_iam_role_policy" "execution" {
  name = "pull-log-secrets"
  role = aws_iam_role.execution.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [
        {
          # AWS: ecr:GetAuthorizationToken has no resource-level permissions ("*" required).
          Sid      = "RegistryLogin"
          Effect   = "Allow"
          Action   = ["ecr:GetAuthorizationToken"]
          Resource = ["*"]
        },
      ],
      length(local.ecr_repository_arns) > 0 ? [
        {
          Sid      = "PullImages"
          Effect   = "Allow"
          Action   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
          Resource = local.ecr_repository_arns
        },
      ] : [],
      [
        {
          Sid      = "WriteLogs"
          Effect   = "Allow"
          Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
          Resource = [for g in aws_cloudwatch_log_group.this : "${g.arn}:*"]
        },
        {
          Sid      = "ReadTaskSecrets"
          Effect   = "Allow"
          Action   = ["secretsmanager:GetSecretValue"]
          Resource = local.secret_arns
        },
        {
          Sid       = "DecryptTaskSecrets"
          Effect    = "Allow"
          Action    = ["kms:Decrypt"]
          Resource  = var.secrets_kms_key_arns
          Condition = { StringEquals = { "kms:ViaService" = "secretsmanager.${var.region}.amazonaws.com" } }
        },
      ],
    )
  })
}

# --- task roles (what the code in each container may do) ---------------------------------------------

resource "aws_iam_role" "task" {
  for_each = toset(["webserver", "daemon", "code-server", "mlflow", "run"])

  name               = "${var.name}-${each.key}"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_trust.json
}

resource "aws_iam_role_policy" "task" {
  for_each = local.task_policies

  name = "${each.key}-access"
  role = aws_iam_role.task[each.key].id

  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = each.value
  })
}
