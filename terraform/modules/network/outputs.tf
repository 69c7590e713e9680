output "vpc_id" {
  description = "VPC id."
  value       = aws_vpc.this.id
}

output "public_subnet_ids" {
  description = "Public subnets (load balancer, NAT gateways)."
  value       = [for az in local.azs : aws_subnet.public[az].id]
}

output "private_subnet_ids" {
  description = "Private subnets (tasks, GPU instances, RDS, Redis)."
  value       = [for az in local.azs : aws_subnet.private[az].id]
}

output "alb_security_group_id" {
  description = "Security group of the load balancer."
  value       = aws_security_group.alb.id
}

output "app_security_group_id" {
  description = "Security group of every ECS task."
  value       = aws_security_group.app.id
}

output "database_security_group_id" {
  description = "Security group of RDS."
  value       = aws_security_group.database.id
}

output "cache_security_group_id" {
  description = "Security group of ElastiCache."
  value       = aws_security_group.cache.id
}
