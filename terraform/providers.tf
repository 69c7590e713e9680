provider "aws" {
  region = var.region

  # Cost-allocation tags on every resource this configuration creates (modules inherit the
  # provider). Activate them once under Billing > Cost allocation tags.
  default_tags {
    tags = merge(var.extra_tags, {
      project       = var.project
      environment   = var.environment
      owner         = var.owner
      "cost-center" = var.cost_center
      "managed-by"  = "terraform"
    })
  }
}
