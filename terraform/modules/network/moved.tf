# The security-group rules were folded into for_each maps (main.tf, "flows" and "https_out"):
# these blocks move the existing rules in the state to their new addresses instead of replacing
# them. Keep them until every environment has applied once with them; then they can go.

moved {
  from = aws_vpc_security_group_egress_rule.alb_to_webserver
  to   = aws_vpc_security_group_egress_rule.flow["webserver"]
}

moved {
  from = aws_vpc_security_group_egress_rule.app_internal["code_server"]
  to   = aws_vpc_security_group_egress_rule.flow["code_server"]
}

moved {
  from = aws_vpc_security_group_egress_rule.app_internal["mlflow"]
  to   = aws_vpc_security_group_egress_rule.flow["mlflow"]
}

moved {
  from = aws_vpc_security_group_egress_rule.app_to_database
  to   = aws_vpc_security_group_egress_rule.flow["database"]
}

moved {
  from = aws_vpc_security_group_egress_rule.app_to_cache
  to   = aws_vpc_security_group_egress_rule.flow["cache"]
}

moved {
  from = aws_vpc_security_group_ingress_rule.app_from_alb
  to   = aws_vpc_security_group_ingress_rule.flow["webserver"]
}

moved {
  from = aws_vpc_security_group_ingress_rule.app_internal["code_server"]
  to   = aws_vpc_security_group_ingress_rule.flow["code_server"]
}

moved {
  from = aws_vpc_security_group_ingress_rule.app_internal["mlflow"]
  to   = aws_vpc_security_group_ingress_rule.flow["mlflow"]
}

moved {
  from = aws_vpc_security_group_ingress_rule.database_from_app
  to   = aws_vpc_security_group_ingress_rule.flow["database"]
}

moved {
  from = aws_vpc_security_group_ingress_rule.cache_from_app
  to   = aws_vpc_security_group_ingress_rule.flow["cache"]
}

moved {
  from = aws_vpc_security_group_egress_rule.alb_to_idp
  to   = aws_vpc_security_group_egress_rule.https_out["alb"]
}

moved {
  from = aws_vpc_security_group_egress_rule.app_https
  to   = aws_vpc_security_group_egress_rule.https_out["app"]
}
