# The three secrets the functions read (cached for STK_SECRET_TTL_SECS). Terraform creates the
# containers only: there is deliberately no aws_secretsmanager_secret_version, so the values are
# set outside Terraform (docs/deploy.md) and never enter the Terraform state.

locals {
  descriptions = {
    smashrun  = "MyRunStreak SmashRun OAuth client. JSON: {\"client_id\": \"...\", \"client_secret\": \"...\"}. Read by the API and worker functions."
    supabase  = "MyRunStreak Supabase access. JSON: {\"url\": \"https://<project>.supabase.co/rest/v1\", \"service_role_key\": \"...\"}; url is the PostgREST base URL. Read by all three functions."
    token_key = "MyRunStreak AES-256-GCM key for SmashRun tokens. JSON: {\"key\": \"<base64 of 32 random bytes>\"} (openssl rand -base64 32). Read by all three functions. Never replace casually: stored tokens would become unreadable."
  }
}

resource "aws_secretsmanager_secret" "this" {
  for_each = local.descriptions

  #checkov:skip=CKV2_AWS_57:No automatic rotation: the SmashRun client secret is issued by SmashRun and the Supabase key by Supabase (rotated by hand in their consoles, then put-secret-value), and the token key must not rotate without re-encrypting every stored token. The functions re-read secrets every STK_SECRET_TTL_SECS, so a manual rotation needs no redeploy.
  name                    = var.secret_names[each.key]
  description             = each.value
  recovery_window_in_days = var.recovery_window_in_days
  kms_key_id              = var.kms_key_arn
}
