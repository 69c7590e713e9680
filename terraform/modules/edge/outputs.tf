output "target_group_arn" {
  description = "Target group the webserver service registers in."
  value       = aws_lb_target_group.webserver.arn
}

output "alb_dns_name" {
  description = "DNS name of the load balancer."
  value       = aws_lb.this.dns_name
}

output "ui_url" {
  description = "URL of the Dagster UI."
  value       = "https://${var.ui_domain_name}"
}

output "cognito_user_pool_id" {
  description = "User pool of the UI's users (auth_provider = cognito), else null."
  value       = local.cognito ? aws_cognito_user_pool.this[0].id : null
}

output "web_acl_arn" {
  description = "WAF web ACL of the load balancer."
  value       = aws_wafv2_web_acl.this.arn
}
