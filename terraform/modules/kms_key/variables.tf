variable "description" {
  description = "What the key protects."
  type        = string
}

variable "alias" {
  description = "Alias name, without the alias/ prefix."
  type        = string
}

variable "account_id" {
  description = "AWS account that administers the key."
  type        = string
}
