terraform {
  # 1.11: ephemeral resources and write-only arguments (the Redis AUTH token never enters the plan).
  required_version = ">= 1.11.0, < 2.0.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.100: ephemeral resources and write-only secret values.
      version = "~> 5.100"
    }
  }
}
