output "cluster_name" {
  description = "ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "run_task_definition_arn" {
  description = "Task definition of runs and steps (revision the run launcher uses)."
  value       = aws_ecs_task_definition.run.arn
}

output "gpu_capacity_provider" {
  description = "Capacity provider of the GPU Auto Scaling group."
  value       = aws_ecs_capacity_provider.gpu.name
}

output "task_role_arns" {
  description = "Task role per service (and `run` for runs and steps)."
  value       = { for k, r in aws_iam_role.task : k => r.arn }
}

output "execution_role_arn" {
  description = "Execution role of every task."
  value       = aws_iam_role.execution.arn
}

output "instance_yaml" {
  description = "The Dagster instance configuration the webserver and daemon run with."
  value       = local.instance_yaml
}

output "db_bootstrap_task_definition_arn" {
  description = "The one-off database bootstrap task (run it after the first apply and after rotating a database role's password)."
  value       = aws_ecs_task_definition.db_bootstrap.arn
}
