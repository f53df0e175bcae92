# State is local (terraform.tfstate in this folder) until a remote backend is configured. For a
# shared or CI deployment, create an S3 bucket (versioned, encrypted, public access blocked) once,
# uncomment this block, fill it in and run `terraform init -migrate-state`.
#
# The state holds no secret values (the secrets' values are set outside Terraform), but it does
# hold ARNs, URLs and account ids: keep the bucket private.
#
# terraform {
#   backend "s3" {
#     bucket       = "myrunstreak-terraform-state-<account-id>"
#     key          = "myrunstreak/dev/terraform.tfstate"
#     region       = "us-east-1"
#     encrypt      = true
#     use_lockfile = true # S3-native state locking (Terraform >= 1.10); no DynamoDB lock table needed
#   }
# }
