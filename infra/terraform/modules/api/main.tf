# The public API: a REGIONAL REST API whose every path (`/` and `/{proxy+}`, any method) is
# proxied to the API function (AWS_PROXY), but for `/auth/*`, proxied to the auth function; one
# stage with throttling, JSON access logs and optional X-Ray, and an optional custom domain.
#
# Least privilege: the auth function (login: code exchange, key pickup, logout) is the only one
# here that may read the SmashRun client secret and the token key; the API function (syncs,
# views, /me) reads only the Supabase secret.
#
# Authentication is the application's own: every user call carries `Authorization: Bearer stk_...`
# and the function checks it (keys are stored hashed). API Gateway authorizers are not used.

data "aws_partition" "current" {}

module "function" {
  source = "../lambda_function"

  function_name        = var.name
  description          = "MyRunStreak HTTP API (axum router behind API Gateway)"
  zip_path             = var.zip_path
  architecture         = var.architecture
  memory_size          = var.memory_size
  timeout              = var.timeout
  reserved_concurrency = var.reserved_concurrency
  environment          = var.environment
  log_retention_days   = var.log_retention_days
  kms_key_arn          = var.kms_key_arn
  tracing_enabled      = var.tracing_enabled

  policy_statements = [
    {
      # POST /sync writes the job, the active slot and the idempotency key in one
      # TransactWriteItems of conditional Puts, which is authorised per item action (PutItem).
      # Nothing here deletes an item or uses a ConditionCheck, so neither is granted.
      sid       = "JobsTableItems"
      actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
      resources = [var.jobs_table_arn]
    },
    {
      sid       = "JobsByUserQuery"
      actions   = ["dynamodb:Query"]
      resources = [var.jobs_by_user_index_arn]
    },
    {
      sid       = "EnqueueSyncJobs"
      actions   = ["sqs:SendMessage"]
      resources = [var.queue_arn]
    },
    {
      sid       = "ReadSupabaseSecret"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [var.supabase_secret_arn]
    },
  ]
}

module "auth_function" {
  source = "../lambda_function"

  function_name        = "${var.name}-auth"
  description          = "MyRunStreak login: sessions, SmashRun's OAuth callback, API keys"
  zip_path             = var.auth_zip_path
  architecture         = var.architecture
  memory_size          = var.memory_size
  timeout              = var.timeout
  reserved_concurrency = var.auth_reserved_concurrency
  environment          = var.environment
  log_retention_days   = var.log_retention_days
  kms_key_arn          = var.kms_key_arn
  tracing_enabled      = var.tracing_enabled

  policy_statements = [
    {
      # Login sessions live in the jobs table under login#<id> keys; this function may touch
      # those items and no job.
      sid       = "LoginSessionItems"
      actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
      resources = [var.jobs_table_arn]
      conditions = [{
        test     = "ForAllValues:StringLike"
        variable = "dynamodb:LeadingKeys"
        values   = ["login#*"]
      }]
    },
    {
      # The SmashRun client (code exchange), the token key (tokens are encrypted before they
      # are stored) and the store.
      sid       = "ReadLoginSecrets"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [var.smashrun_secret_arn, var.token_key_secret_arn, var.supabase_secret_arn]
    },
  ]
}

# --- REST API ---------------------------------------------------------------------------------

resource "aws_api_gateway_rest_api" "this" {
  name        = var.name
  description = "MyRunStreak API (stk CLI backend)"

  endpoint_configuration {
    types = ["REGIONAL"]
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_api_gateway_resource" "proxy" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_rest_api.this.root_resource_id
  path_part   = "{proxy+}"
}

resource "aws_api_gateway_method" "root" {
  #checkov:skip=CKV_AWS_59:Authentication is done by the function: every user route requires an API key (Bearer stk_..., stored hashed), and /health must stay public. An authorizer would duplicate the key lookup.
  #checkov:skip=CKV2_AWS_53:Proxy integration: the axum router validates every request body and parameter (typed extractors; 400, 413 or 415 with a JSON error body), so API Gateway request models would duplicate it.
  rest_api_id   = aws_api_gateway_rest_api.this.id
  resource_id   = aws_api_gateway_rest_api.this.root_resource_id
  http_method   = "ANY"
  authorization = "NONE"
}

resource "aws_api_gateway_method" "proxy" {
  #checkov:skip=CKV_AWS_59:Authentication is done by the function: every user route requires an API key (Bearer stk_..., stored hashed), and /health must stay public. An authorizer would duplicate the key lookup.
  #checkov:skip=CKV2_AWS_53:Proxy integration: the axum router validates every request body and parameter (typed extractors; 400, 413 or 415 with a JSON error body), so API Gateway request models would duplicate it.
  rest_api_id   = aws_api_gateway_rest_api.this.id
  resource_id   = aws_api_gateway_resource.proxy.id
  http_method   = "ANY"
  authorization = "NONE"

  request_parameters = {
    "method.request.path.proxy" = true
  }
}

# /auth and /auth/{proxy+}: the login routes, served by the auth function.
resource "aws_api_gateway_resource" "auth" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_rest_api.this.root_resource_id
  path_part   = "auth"
}

resource "aws_api_gateway_resource" "auth_proxy" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.auth.id
  path_part   = "{proxy+}"
}

resource "aws_api_gateway_method" "auth_proxy" {
  #checkov:skip=CKV_AWS_59:The login routes are public by nature (they hand out the API key); logout checks the key in the function.
  #checkov:skip=CKV2_AWS_53:Proxy integration: the auth router validates every body and parameter (typed extractors; 400, 413 or 415 with a JSON error body).
  rest_api_id   = aws_api_gateway_rest_api.this.id
  resource_id   = aws_api_gateway_resource.auth_proxy.id
  http_method   = "ANY"
  authorization = "NONE"

  request_parameters = {
    "method.request.path.proxy" = true
  }
}

resource "aws_api_gateway_integration" "auth_proxy" {
  rest_api_id             = aws_api_gateway_rest_api.this.id
  resource_id             = aws_api_gateway_resource.auth_proxy.id
  http_method             = aws_api_gateway_method.auth_proxy.http_method
  type                    = "AWS_PROXY"
  integration_http_method = "POST"
  uri                     = module.auth_function.invoke_arn
}

resource "aws_lambda_permission" "api_gateway_auth" {
  statement_id  = "AllowApiGatewayInvoke"
  action        = "lambda:InvokeFunction"
  function_name = module.auth_function.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_api_gateway_rest_api.this.execution_arn}/${var.stage_name}/*/auth/*"
}

resource "aws_api_gateway_integration" "root" {
  rest_api_id             = aws_api_gateway_rest_api.this.id
  resource_id             = aws_api_gateway_rest_api.this.root_resource_id
  http_method             = aws_api_gateway_method.root.http_method
  type                    = "AWS_PROXY"
  integration_http_method = "POST"
  uri                     = module.function.invoke_arn
}

resource "aws_api_gateway_integration" "proxy" {
  rest_api_id             = aws_api_gateway_rest_api.this.id
  resource_id             = aws_api_gateway_resource.proxy.id
  http_method             = aws_api_gateway_method.proxy.http_method
  type                    = "AWS_PROXY"
  integration_http_method = "POST"
  uri                     = module.function.invoke_arn
}

resource "aws_api_gateway_deployment" "this" {
  rest_api_id = aws_api_gateway_rest_api.this.id

  # A new deployment whenever the routes or integrations change.
  triggers = {
    redeployment = sha1(jsonencode([
      aws_api_gateway_resource.proxy.id,
      aws_api_gateway_method.root.id,
      aws_api_gateway_method.proxy.id,
      aws_api_gateway_integration.root.id,
      aws_api_gateway_integration.root.uri,
      aws_api_gateway_integration.proxy.id,
      aws_api_gateway_integration.proxy.uri,
      aws_api_gateway_resource.auth.id,
      aws_api_gateway_resource.auth_proxy.id,
      aws_api_gateway_method.auth_proxy.id,
      aws_api_gateway_integration.auth_proxy.id,
      aws_api_gateway_integration.auth_proxy.uri,
    ]))
  }

  lifecycle {
    create_before_destroy = true
  }
}

# Only this API's stage may invoke the function.
resource "aws_lambda_permission" "api_gateway" {
  statement_id  = "AllowApiGatewayInvoke"
  action        = "lambda:InvokeFunction"
  function_name = module.function.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_api_gateway_rest_api.this.execution_arn}/${var.stage_name}/*/*"
}

# --- logging ----------------------------------------------------------------------------------

# API Gateway writes access and execution logs with an account-wide role (one per account and
# region). The AWS managed policy is the documented one for it: the role serves every REST API
# of the account, so it cannot be scoped to this API's log groups.
data "aws_iam_policy_document" "api_gateway_assume" {
  count = var.manage_account_settings ? 1 : 0

  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["apigateway.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "api_gateway_cloudwatch" {
  count = var.manage_account_settings ? 1 : 0

  name               = "${var.name}-apigw-cloudwatch"
  description        = "Account-level role API Gateway uses to write access and execution logs."
  assume_role_policy = data.aws_iam_policy_document.api_gateway_assume[0].json
}

resource "aws_iam_role_policy_attachment" "api_gateway_cloudwatch" {
  count = var.manage_account_settings ? 1 : 0

  role       = aws_iam_role.api_gateway_cloudwatch[0].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
}

resource "aws_api_gateway_account" "this" {
  count = var.manage_account_settings ? 1 : 0

  cloudwatch_role_arn = aws_iam_role.api_gateway_cloudwatch[0].arn
  depends_on          = [aws_iam_role_policy_attachment.api_gateway_cloudwatch]
}

resource "aws_cloudwatch_log_group" "access" {
  #checkov:skip=CKV_AWS_338:Operational logs only; retention is var.log_retention_days (30 days by default), there is no requirement to keep a year of them.
  name              = "/aws/apigateway/${var.name}/${var.stage_name}/access"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

# The group API Gateway would otherwise create itself, with no retention and no key.
resource "aws_cloudwatch_log_group" "execution" {
  #checkov:skip=CKV_AWS_338:Operational logs only; retention is var.log_retention_days (30 days by default), there is no requirement to keep a year of them.
  name              = "API-Gateway-Execution-Logs_${aws_api_gateway_rest_api.this.id}/${var.stage_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_api_gateway_stage" "this" {
  #checkov:skip=CKV_AWS_120:No response caching: every answer is per-user (API key) and live (a sync job's progress is polled), so a cache could only serve stale or another user's data.
  #checkov:skip=CKV2_AWS_29:No WAF web ACL: the API is throttled per method (throttling_rate_limit / throttling_burst_limit), every user call needs an API key, and a web ACL (about 6 USD a month plus per-request fees) outweighs a personal CLI backend. Attach one here if traffic ever warrants it.
  #checkov:skip=CKV2_AWS_51:No client certificate: it authenticates API Gateway to an HTTP backend, and this API's only backend is a Lambda proxy integration.
  #checkov:skip=CKV_AWS_73:X-Ray is opt-in through var.tracing_enabled (off by default, to keep the stage free of tracing cost until someone reads the traces).
  rest_api_id          = aws_api_gateway_rest_api.this.id
  deployment_id        = aws_api_gateway_deployment.this.id
  stage_name           = var.stage_name
  xray_tracing_enabled = var.tracing_enabled

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    # One JSON object per request. The Authorization header is never part of it.
    format = jsonencode({
      requestId          = "$context.requestId"
      extendedRequestId  = "$context.extendedRequestId"
      ip                 = "$context.identity.sourceIp"
      userAgent          = "$context.identity.userAgent"
      requestTime        = "$context.requestTime"
      method             = "$context.httpMethod"
      path               = "$context.path"
      resourcePath       = "$context.resourcePath"
      protocol           = "$context.protocol"
      status             = "$context.status"
      responseLength     = "$context.responseLength"
      latency            = "$context.responseLatency"
      integrationLatency = "$context.integration.latency"
      integrationStatus  = "$context.integration.status"
      errorMessage       = "$context.error.message"
    })
  }

  depends_on = [aws_api_gateway_account.this, aws_cloudwatch_log_group.execution]
}

resource "aws_api_gateway_method_settings" "all" {
  #checkov:skip=CKV_AWS_225:Caching stays off on purpose: answers are per-user and live (job progress is polled), so a cache could only serve stale or another user's data. cache_data_encrypted is set for the day it is turned on.
  rest_api_id = aws_api_gateway_rest_api.this.id
  stage_name  = aws_api_gateway_stage.this.stage_name
  method_path = "*/*"

  settings {
    metrics_enabled        = true
    logging_level          = var.execution_logging_level
    data_trace_enabled     = false # full request/response logging would write API keys and tokens to the logs
    throttling_rate_limit  = var.throttling_rate_limit
    throttling_burst_limit = var.throttling_burst_limit
    caching_enabled        = false
    cache_data_encrypted   = true
  }
}

# --- custom domain ----------------------------------------------------------------------------
#
# The endpoint is REGIONAL, so its ACM certificate must be issued in the API's own region, i.e.
# by this same provider. us-east-1 is required only for EDGE endpoints (served by CloudFront).

locals {
  zone_managed = var.custom_domain_enabled && var.route53_zone_id != null
}

resource "aws_acm_certificate" "this" {
  count = var.custom_domain_enabled ? 1 : 0

  domain_name       = var.custom_domain_name
  validation_method = "DNS"

  lifecycle {
    create_before_destroy = true

    precondition {
      condition     = var.custom_domain_name != null && var.custom_domain_name != ""
      error_message = "custom_domain_name must be set when custom_domain_enabled is true."
    }
  }
}

resource "aws_route53_record" "certificate_validation" {
  for_each = {
    for dvo in flatten([for c in aws_acm_certificate.this : c.domain_validation_options]) :
    dvo.domain_name => dvo if local.zone_managed
  }

  zone_id         = var.route53_zone_id
  name            = each.value.resource_record_name
  type            = each.value.resource_record_type
  records         = [each.value.resource_record_value]
  ttl             = 300
  allow_overwrite = true
}

# Waits until the certificate is issued. Without a Route 53 zone, add the validation CNAME at the
# DNS provider while this waits (docs/deploy.md shows how to read it).
resource "aws_acm_certificate_validation" "this" {
  count = var.custom_domain_enabled ? 1 : 0

  certificate_arn         = aws_acm_certificate.this[0].arn
  validation_record_fqdns = local.zone_managed ? [for r in aws_route53_record.certificate_validation : r.fqdn] : null
}

resource "aws_api_gateway_domain_name" "this" {
  count = var.custom_domain_enabled ? 1 : 0

  domain_name              = var.custom_domain_name
  regional_certificate_arn = aws_acm_certificate_validation.this[0].certificate_arn
  security_policy          = "TLS_1_2"

  endpoint_configuration {
    types = ["REGIONAL"]
  }
}

# The domain's root maps to the stage, so https://<domain>/health reaches GET /health (no stage
# segment in the path; the function ignores the stage either way).
resource "aws_api_gateway_base_path_mapping" "this" {
  count = var.custom_domain_enabled ? 1 : 0

  api_id      = aws_api_gateway_rest_api.this.id
  stage_name  = aws_api_gateway_stage.this.stage_name
  domain_name = aws_api_gateway_domain_name.this[0].domain_name
}

resource "aws_route53_record" "alias" {
  count = local.zone_managed ? 1 : 0

  zone_id = var.route53_zone_id
  name    = aws_api_gateway_domain_name.this[0].domain_name
  type    = "A"

  alias {
    name                   = aws_api_gateway_domain_name.this[0].regional_domain_name
    zone_id                = aws_api_gateway_domain_name.this[0].regional_zone_id
    evaluate_target_health = false
  }
}
