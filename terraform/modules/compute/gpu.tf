# GPU capacity for training that costs nothing while idle: an Auto Scaling group of ECS GPU
# instances with min 0, driven by an ECS capacity provider with managed scaling. A task that asks
# for this capacity provider (and a GPU in its container overrides) makes ECS scale the group out;
# when no task needs it, managed scaling brings it back to zero (managed termination protection
# and draining keep running tasks safe).

data "aws_ssm_parameter" "gpu_ami" {
  name = var.gpu_ami_ssm_parameter
}

data "aws_default_tags" "current" {}

resource "aws_security_group" "gpu_host" {
  name        = "${var.name}-gpu-host"
  description = "GPU container instances (the ECS agent); tasks on them use their own ENIs and the app group"
  vpc_id      = var.vpc_id
  tags        = { Name = "${var.name}-gpu-host" }
}

resource "aws_vpc_security_group_egress_rule" "gpu_host_https" {
  security_group_id = aws_security_group.gpu_host.id
  description       = "ECS, ECR and CloudWatch endpoints for the agent"
  cidr_ipv4         = "0.0.0.0/0"
  from_port         = 443
  to_port           = 443
  ip_protocol       = "tcp"
}

data "aws_iam_policy_document" "ec2_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "gpu_instance" {
  name               = "${var.name}-gpu-instance"
  assume_role_policy = data.aws_iam_policy_document.ec2_trust.json
}

# The ECS agent's permissions, scoped to this cluster (instead of the broader managed
# AmazonEC2ContainerServiceforEC2Role). Images and logs go through the tasks' execution role.
resource "aws_iam_role_policy" "gpu_instance" {
  name = "ecs-agent"
  role = aws_iam_role.gpu_instance.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid    = "JoinCluster"
        Effect = "Allow"
        Action = [
          "ecs:RegisterContainerInstance",
          "ecs:DeregisterContainerInstance",
          "ecs:SubmitContainerStateChange",
          "ecs:SubmitTaskStateChange",
          "ecs:SubmitAttachmentStateChanges",
        ]
        Resource = [local.cluster_arn]
      },
      {
        Sid    = "AgentSession"
        Effect = "Allow"
        Action = [
          "ecs:Poll",
          "ecs:StartTelemetrySession",
          "ecs:UpdateContainerInstancesState",
        ]
        Resource = ["arn:aws:ecs:${var.region}:${var.account_id}:container-instance/${local.cluster_name}/*"]
      },
      {
        Sid       = "TagAtRegistration"
        Effect    = "Allow"
        Action    = ["ecs:TagResource"]
        Resource  = ["arn:aws:ecs:${var.region}:${var.account_id}:container-instance/${local.cluster_name}/*"]
        Condition = { StringEquals = { "ecs:CreateAction" = "RegisterContainerInstance" } }
      },
      {
        # AWS: ecs:DiscoverPollEndpoint has no resource-level permissions ("*" required).
        Sid      = "DiscoverPollEndpoint"
        Effect   = "Allow"
        Action   = ["ecs:DiscoverPollEndpoint"]
        Resource = ["*"]
      },
    ]
  })
}

resource "aws_iam_instance_profile" "gpu" {
  name = "${var.name}-gpu-instance"
  role = aws_iam_role.gpu_instance.name
}

resource "aws_launch_template" "gpu" {
  name_prefix            = "${var.name}-gpu-"
  image_id               = data.aws_ssm_parameter.gpu_ami.insecure_value
  instance_type          = var.gpu_instance_type
  ebs_optimized          = true
  update_default_version = true
  vpc_security_group_ids = [aws_security_group.gpu_host.id]
  user_data              = base64encode(templatefile("${path.module}/templates/gpu_user_data.sh.tftpl", { cluster = local.cluster_name }))

  iam_instance_profile {
    arn = aws_iam_instance_profile.gpu.arn
  }

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  monitoring {
    enabled = true
  }

  block_device_mappings {
    device_name = "/dev/xvda"

    ebs {
      volume_size           = var.gpu_root_volume_gib
      volume_type           = "gp3"
      encrypted             = true
      delete_on_termination = true
    }
  }

  # default_tags do not reach volumes created at launch.
  tag_specifications {
    resource_type = "volume"
    tags          = merge(data.aws_default_tags.current.tags, { Name = "${var.name}-gpu" })
  }
}

resource "aws_autoscaling_group" "gpu" {
  name_prefix           = "${var.name}-gpu-"
  min_size              = 0
  max_size              = var.gpu_max_instances
  vpc_zone_identifier   = var.private_subnet_ids
  protect_from_scale_in = true
  health_check_type     = "EC2"

  launch_template {
    id      = aws_launch_template.gpu.id
    version = aws_launch_template.gpu.latest_version
  }

  # Required by ECS managed scaling.
  tag {
    key                 = "AmazonECSManaged"
    value               = "true"
    propagate_at_launch = true
  }

  tag {
    key                 = "Name"
    value               = "${var.name}-gpu"
    propagate_at_launch = true
  }

  # default_tags do not apply to Auto Scaling groups: propagate the cost tags to the instances.
  dynamic "tag" {
    for_each = data.aws_default_tags.current.tags
    content {
      key                 = tag.key
      value               = tag.value
      propagate_at_launch = true
    }
  }

  lifecycle {
    create_before_destroy = true
    # ECS managed scaling owns the desired capacity.
    ignore_changes = [desired_capacity]
  }
}

resource "aws_ecs_capacity_provider" "gpu" {
  name = "${var.name}-gpu"

  auto_scaling_group_provider {
    auto_scaling_group_arn         = aws_autoscaling_group.gpu.arn
    managed_termination_protection = "ENABLED"
    managed_draining               = "ENABLED"

    managed_scaling {
      status                    = "ENABLED"
      target_capacity           = 100
      minimum_scaling_step_size = 1
      maximum_scaling_step_size = var.gpu_max_instances
      instance_warmup_period    = 300
    }
  }
}
