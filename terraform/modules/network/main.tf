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

# Traffic between the groups, one entry a flow: each becomes an egress rule on the sending group
# and the matching ingress rule on the receiving one, so the two sides can never disagree.
locals {
  groups = {
    alb      = aws_security_group.alb.id
    app      = aws_security_group.app.id
    database = aws_security_group.database.id
    cache    = aws_security_group.cache.id
  }
  flows = {
    webserver   = { from = "alb", to = "app", port = var.ports.webserver, egress = "To the Dagster webserver tasks", ingress = "Dagster webserver from the load balancer" }
    code_server = { from = "app", to = "app", port = var.ports.code_server, egress = "To code_server", ingress = "code_server from the other tasks" }
    mlflow      = { from = "app", to = "app", port = var.ports.mlflow, egress = "To mlflow", ingress = "mlflow from the other tasks" }
    database    = { from = "app", to = "database", port = 5432, egress = "To PostgreSQL", ingress = "PostgreSQL from the ECS tasks" }
    cache       = { from = "app", to = "cache", port = 6379, egress = "To Redis", ingress = "Redis from the ECS tasks" }
  }
  # HTTPS to anywhere, by group: the load balancer's authenticate action and the tasks' AWS calls.
  https_out = {
    alb = "To the identity provider's token and user-info endpoints (authenticate action)"
    app = "AWS APIs (S3, ECS, Secrets Manager, Logs, ECR) and the image registry"
  }
}

resource "aws_vpc_security_group_egress_rule" "flow" {
  for_each = local.flows

  security_group_id            = local.groups[each.value.from]
  description                  = each.value.egress
  referenced_security_group_id = local.groups[each.value.to]
  from_port                    = each.value.port
  to_port                      = each.value.port
  ip_protocol                  = "tcp"
}

resource "aws_vpc_security_group_ingress_rule" "flow" {
  for_each = local.flows

  security_group_id            = local.groups[each.value.to]
  description                  = each.value.ingress
  referenced_security_group_id = local.groups[each.value.from]
  from_port                    = each.value.port
  to_port                      = each.value.port
  ip_protocol                  = "tcp"
}

resource "aws_vpc_security_group_egress_rule" "https_out" {
  for_each = local.https_out

  security_group_id = local.groups[each.key]
  description       = each.value
  cidr_ipv4         = "0.0.0.0/0"
  from_port         = 443
  to_port           = 443
  ip_protocol       = "tcp"
}
