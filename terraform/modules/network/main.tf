# VPC: public subnets hold only the load balancer and the NAT gateways; every task, the GPU
# instances, RDS and Redis live in private subnets. Flow logs record all traffic.

# The zones are named, not discovered: the layout never changes when AWS adds a zone, and a
# zone that is not available fails the plan.
data "aws_availability_zones" "selected" {
  state = "available"

  filter {
    name   = "zone-name"
    values = var.availability_zones
  }
}

data "aws_region" "current" {}

locals {
  azs      = sort(data.aws_availability_zones.selected.names)
  nat_keys = var.single_nat_gateway ? [local.azs[0]] : local.azs
}

resource "aws_vpc" "this" {
  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = { Name = var.name }
}

# The default security group denies everything: resources must name their own group.
resource "aws_default_security_group" "default" {
  vpc_id = aws_vpc.this.id
}

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id
  tags   = { Name = var.name }
}

resource "aws_subnet" "public" {
  for_each = { for i, az in local.azs : az => i }

  vpc_id                  = aws_vpc.this.id
  availability_zone       = each.key
  cidr_block              = cidrsubnet(var.vpc_cidr, 8, each.value)
  map_public_ip_on_launch = false

  tags = { Name = "${var.name}-public-${each.key}", tier = "public" }
}

resource "aws_subnet" "private" {
  for_each = { for i, az in local.azs : az => i }

  vpc_id            = aws_vpc.this.id
  availability_zone = each.key
  cidr_block        = cidrsubnet(var.vpc_cidr, 4, each.value + 1)

  tags = { Name = "${var.name}-private-${each.key}", tier = "private" }
}

resource "aws_eip" "nat" {
  for_each = toset(local.nat_keys)

  domain = "vpc"
  tags   = { Name = "${var.name}-nat-${each.key}" }

  depends_on = [aws_internet_gateway.this]
}

resource "aws_nat_gateway" "this" {
  for_each = toset(local.nat_keys)

  allocation_id = aws_eip.nat[each.key].id
  subnet_id     = aws_subnet.public[each.key].id
  tags          = { Name = "${var.name}-nat-${each.key}" }
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.this.id
  tags   = { Name = "${var.name}-public" }
}

resource "aws_route" "public_internet" {
  route_table_id         = aws_route_table.public.id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this.id
}

resource "aws_route_table_association" "public" {
  for_each = aws_subnet.public

  subnet_id      = each.value.id
  route_table_id = aws_route_table.public.id
}

resource "aws_route_table" "private" {
  for_each = toset(local.azs)

  vpc_id = aws_vpc.this.id
  tags   = { Name = "${var.name}-private-${each.key}" }
}

resource "aws_route" "private_nat" {
  for_each = toset(local.azs)

  route_table_id         = aws_route_table.private[each.key].id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.this[var.single_nat_gateway ? local.azs[0] : each.key].id
}

resource "aws_route_table_association" "private" {
  for_each = aws_subnet.private

  subnet_id      = each.value.id
  route_table_id = aws_route_table.private[each.key].id
}

# S3 traffic (tables, artifacts, image layers) stays off the NAT gateways.
resource "aws_vpc_endpoint" "s3" {
  vpc_id            = aws_vpc.this.id
  service_name      = "com.amazonaws.${data.aws_region.current.name}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = [for rt in aws_route_table.private : rt.id]

  tags = { Name = "${var.name}-s3" }
}

# --- flow logs ---------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "flow_logs" {
  name              = "/${var.name}/vpc-flow-logs"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.logs_kms_key_arn
}

resource "aws_iam_role" "flow_logs" {
  name = "${var.name}-vpc-flow-logs"

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "vpc-flow-logs.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = aws_vpc.this.owner_id } }
    }]
  })
}

resource "aws_iam_role_policy" "flow_logs" {
  name = "write-flow-logs"
  role = aws_iam_role.flow_logs.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect = "Allow"
      Action = [
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "logs:DescribeLogGroups",
        "logs:DescribeLogStreams",
      ]
      Resource = [aws_cloudwatch_log_group.flow_logs.arn, "${aws_cloudwatch_log_group.flow_logs.arn}:*"]
    }]
  })
}

resource "aws_flow_log" "this" {
  vpc_id                   = aws_vpc.this.id
  traffic_type             = "ALL"
  log_destination_type     = "cloud-watch-logs"
  log_destination          = aws_cloudwatch_log_group.flow_logs.arn
  iam_role_arn             = aws_iam_role.flow_logs.arn
  max_aggregation_interval = 60
}

# --- security groups -----------------------------------------------------------------------------
# alb -> app (webserver port); app <-> app (code server gRPC, MLflow); app -> database, cache;
# app -> 443 anywhere (AWS APIs through the NAT / S3 endpoint, the image registry).

resource "aws_security_group" "alb" {
  #checkov:skip=CKV2_AWS_5: Attached in module.edge (aws_lb.this) through this module's output; checkov does not follow security groups across module boundaries.
  name        = "${var.name}-alb"
  description = "Load balancer of the Dagster UI"
  vpc_id      = aws_vpc.this.id
  tags        = { Name = "${var.name}-alb" }
}

resource "aws_security_group" "app" {
  #checkov:skip=CKV2_AWS_5: Attached in module.compute (ECS services, the run task network configuration) through this module's output; checkov does not follow security groups across module boundaries.
  name        = "${var.name}-app"
  description = "ECS tasks: Dagster webserver, daemon, code location, runs and steps, MLflow"
  vpc_id      = aws_vpc.this.id
  tags        = { Name = "${var.name}-app" }
}

resource "aws_security_group" "database" {
  #checkov:skip=CKV2_AWS_5: Attached in module.database (aws_db_instance.this) through this module's output; checkov does not follow security groups across module boundaries.
  name        = "${var.name}-database"
  description = "RDS PostgreSQL, reachable from the ECS tasks only"
  vpc_id      = aws_vpc.this.id
  tags        = { Name = "${var.name}-database" }
}

resource "aws_security_group" "cache" {
  #checkov:skip=CKV2_AWS_5: Attached in module.cache (aws_elasticache_replication_group.this) through this module's output; checkov does not follow security groups across module boundaries.
  name        = "${var.name}-cache"
  description = "ElastiCache Redis, reachable from the ECS tasks only"
  vpc_id      = aws_vpc.this.id
  tags        = { Name = "${var.name}-cache" }
}

locals {
  alb_ingress = merge([
    for cidr in var.allowed_cidrs : {
      for port in [80, 443] : "${cidr}-${port}" => { cidr = cidr, port = port }
    }
  ]...)
}

resource "aws_vpc_security_group_ingress_rule" "alb_from_clients" {
  for_each = local.alb_ingress

  security_group_id = aws_security_group.alb.id
  description       = each.value.port == 443 ? "HTTPS from allowed clients" : "HTTP from allowed clients (redirected to HTTPS)"
  cidr_ipv4         = each.value.cidr
  from_port         = each.value.port
  to_port           = each.value.port
  ip_protocol       = "tcp"
}

resource "aws_vpc_security_group_egress_rule" "alb_to_webserver" {
  security_group_id            = aws_security_group.alb.id
  description                  = "To the Dagster webserver tasks"
  referenced_security_group_id = aws_security_group.app.id
  from_port                    = var.ports.webserver
  to_port                      = var.ports.webserver
  ip_protocol                  = "tcp"
}

resource "aws_vpc_security_group_egress_rule" "alb_to_idp" {
  security_group_id = aws_security_group.alb.id
  description       = "To the identity provider's token and user-info endpoints (authenticate action)"
  cidr_ipv4         = "0.0.0.0/0"
  from_port         = 443
  to_port           = 443
  ip_protocol       = "tcp"
}

resource "aws_vpc_security_group_ingress_rule" "app_from_alb" {
  security_group_id            = aws_security_group.app.id
  description                  = "Dagster webserver from the load balancer"
  referenced_security_group_id = aws_security_group.alb.id
  from_port                    = var.ports.webserver
  to_port                      = var.ports.webserver
  ip_protocol                  = "tcp"
}

resource "aws_vpc_security_group_ingress_rule" "app_internal" {
  for_each = { code_server = var.ports.code_server, mlflow = var.ports.mlflow }

  security_group_id            = aws_security_group.app.id
  description                  = "${each.key} from the other tasks"
  referenced_security_group_id = aws_security_group.app.id
  from_port                    = each.value
  to_port                      = each.value
  ip_protocol                  = "tcp"
}

resource "aws_vpc_security_group_egress_rule" "app_internal" {
  for_each = { code_server = var.ports.code_server, mlflow = var.ports.mlflow }

  security_group_id            = aws_security_group.app.id
  description                  = "To ${each.key}"
  referenced_security_group_id = aws_security_group.app.id
  from_port                    = each.value
  to_port                      = each.value
  ip_protocol                  = "tcp"
}

resource "aws_vpc_security_group_egress_rule" "app_https" {
  security_group_id = aws_security_group.app.id
  description       = "AWS APIs (S3, ECS, Secrets Manager, Logs, ECR) and the image registry"
  cidr_ipv4         = "0.0.0.0/0"
  from_port         = 443
  to_port           = 443
  ip_protocol       = "tcp"
}

resource "aws_vpc_security_group_egress_rule" "app_to_database" {
  security_group_id            = aws_security_group.app.id
  description                  = "To PostgreSQL"
  referenced_security_group_id = aws_security_group.database.id
  from_port                    = 5432
  to_port                      = 5432
  ip_protocol                  = "tcp"
}

resource "aws_vpc_security_group_egress_rule" "app_to_cache" {
  security_group_id            = aws_security_group.app.id
  description                  = "To Redis"
  referenced_security_group_id = aws_security_group.cache.id
  from_port                    = 6379
  to_port                      = 6379
  ip_protocol                  = "tcp"
}

resource "aws_vpc_security_group_ingress_rule" "database_from_app" {
  security_group_id            = aws_security_group.database.id
  description                  = "PostgreSQL from the ECS tasks"
  referenced_security_group_id = aws_security_group.app.id
  from_port                    = 5432
  to_port                      = 5432
  ip_protocol                  = "tcp"
}

resource "aws_vpc_security_group_ingress_rule" "cache_from_app" {
  security_group_id            = aws_security_group.cache.id
  description                  = "Redis from the ECS tasks"
  referenced_security_group_id = aws_security_group.app.id
  from_port                    = 6379
  to_port                      = 6379
  ip_protocol                  = "tcp"
}
