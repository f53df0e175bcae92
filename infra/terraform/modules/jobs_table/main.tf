# The jobs table, with the key schema of lambdas/adapters/src/dynamo.rs:
# - hash key `pk` (S): `<job id>`, `active#<user id>` or `idem#<user id>#<key>`;
# - GSI `by_user`: hash `user_id` (S), range `created_ms` (N), all attributes projected;
# - TTL on `expires_at` (epoch seconds; deletion is lazy, so reads filter expired items too).

resource "aws_dynamodb_table" "jobs" {
  name                        = var.table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "user_id"
    type = "S"
  }

  attribute {
    name = "created_ms"
    type = "N"
  }

  global_secondary_index {
    name            = var.by_user_index_name
    hash_key        = "user_id"
    range_key       = "created_ms"
    projection_type = "ALL"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }
}
