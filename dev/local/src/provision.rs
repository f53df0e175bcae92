//! Creates the queue, its dead-letter queue, the jobs table and the secrets, with the names and
//! shapes Terraform gives them (`infra/terraform`), so the code meets the same resources here.

use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::json;
use stk_adapters::config::names;
use stk_adapters::crypto::generate_key_base64;

pub use names::MAX_RECEIVE_COUNT;
/// Dead-letter retention: 14 days, the SQS maximum.
const DLQ_RETENTION_SECS: u32 = 14 * 24 * 3600;

#[derive(Debug, Clone)]
pub struct ResourceNames {
    pub table: String,
    pub queue: String,
    pub dead_letter_queue: String,
    pub smashrun_secret: String,
    pub supabase_secret: String,
    pub token_key_secret: String,
}

impl ResourceNames {
    pub fn defaults() -> Self {
        Self {
            table: names::JOBS_TABLE.into(),
            queue: names::QUEUE.into(),
            dead_letter_queue: names::DEAD_LETTER_QUEUE.into(),
            smashrun_secret: names::SMASHRUN_SECRET.into(),
            supabase_secret: names::SUPABASE_SECRET.into(),
            token_key_secret: names::TOKEN_KEY_SECRET.into(),
        }
    }

    /// The same names with a suffix, so every test gets resources of its own.
    pub fn suffixed(suffix: &str) -> Self {
        let d = Self::defaults();
        Self {
            table: format!("{}-{suffix}", d.table),
            queue: format!("{}-{suffix}", d.queue),
            dead_letter_queue: format!("{}-{suffix}", d.dead_letter_queue),
            smashrun_secret: format!("{}-{suffix}", d.smashrun_secret),
            supabase_secret: format!("{}-{suffix}", d.supabase_secret),
            token_key_secret: format!("{}-{suffix}", d.token_key_secret),
        }
    }
}

/// Secret values to store. The token key is generated once and never replaced: replacing it
/// would make every stored token unreadable.
#[derive(Debug, Clone)]
pub struct SecretValues {
    pub smashrun_client_id: String,
    pub smashrun_client_secret: String,
    /// The API's `/auth/callback`, as registered with SmashRun.
    pub smashrun_redirect_uri: String,
    pub supabase_url: String,
    pub supabase_service_role_key: String,
    /// The token key (base64 of 32 bytes) when the stack keeps one of its own; else one is
    /// generated the first time the secret is created.
    pub token_key: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Provisioned {
    pub queue_url: String,
    pub dead_letter_queue_url: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("could not create {what}")]
    Aws {
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

fn aws_err<E: std::error::Error + Send + Sync + 'static>(
    what: impl Into<String>,
) -> impl FnOnce(E) -> ProvisionError {
    let what = what.into();
    move |e| ProvisionError::Aws {
        what,
        source: Box::new(e),
    }
}

/// Idempotent: existing resources are kept (secret values other than the token key updated).
pub async fn provision(
    aws: &aws_config::SdkConfig,
    names: &ResourceNames,
    secrets: &SecretValues,
    visibility_timeout: Duration,
) -> Result<Provisioned, ProvisionError> {
    let (queue_url, dead_letter_queue_url) = queues(aws, names, visibility_timeout).await?;
    table(aws, names).await?;
    store_secrets(aws, names, secrets).await?;
    Ok(Provisioned {
        queue_url,
        dead_letter_queue_url,
    })
}

async fn queues(
    aws: &aws_config::SdkConfig,
    names: &ResourceNames,
    visibility_timeout: Duration,
) -> Result<(String, String), ProvisionError> {
    let sqs = aws_sdk_sqs::Client::new(aws);
    let dlq_url = sqs
        .create_queue()
        .queue_name(&names.dead_letter_queue)
        .attributes(
            QueueAttributeName::MessageRetentionPeriod,
            DLQ_RETENTION_SECS.to_string(),
        )
        .attributes(QueueAttributeName::SqsManagedSseEnabled, "true")
        .send()
        .await
        .map_err(|e| aws_err("the dead-letter queue")(e.into_service_error()))?
        .queue_url
        .unwrap_or_default();
    let dlq_arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| aws_err("the dead-letter queue's arn")(e.into_service_error()))?
        .attributes
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .unwrap_or_default();
    let redrive =
        json!({ "deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT.to_string() });
    let queue_url = sqs
        .create_queue()
        .queue_name(&names.queue)
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            visibility_timeout.as_secs().to_string(),
        )
        .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
        .attributes(QueueAttributeName::SqsManagedSseEnabled, "true")
        .send()
        .await;
    let queue_url = match queue_url {
        Ok(out) => out.queue_url.unwrap_or_default(),
        // Already there with other attributes (e.g. another visibility timeout): keep it.
        Err(_) => sqs
            .get_queue_url()
            .queue_name(&names.queue)
            .send()
            .await
            .map_err(|e| aws_err("the job queue")(e.into_service_error()))?
            .queue_url
            .unwrap_or_default(),
    };
    Ok((queue_url, dlq_url))
}

async fn table(aws: &aws_config::SdkConfig, names: &ResourceNames) -> Result<(), ProvisionError> {
    let ddb = aws_sdk_dynamodb::Client::new(aws);
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .map_err(aws_err("a key schema"))
    };
    let attr = |name: &str, kind: ScalarAttributeType| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(kind)
            .build()
            .map_err(aws_err("an attribute definition"))
    };
    let index = GlobalSecondaryIndex::builder()
        .index_name(names::JOBS_BY_USER_INDEX)
        .key_schema(key("user_id", KeyType::Hash)?)
        .key_schema(key("created_ms", KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .map_err(aws_err("the by_user index"))?;
    let created = ddb
        .create_table()
        .table_name(&names.table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("pk", KeyType::Hash)?)
        .attribute_definitions(attr("pk", ScalarAttributeType::S)?)
        .attribute_definitions(attr("user_id", ScalarAttributeType::S)?)
        .attribute_definitions(attr("created_ms", ScalarAttributeType::N)?)
        .global_secondary_indexes(index)
        .send()
        .await;
    match created {
        Ok(_) => {}
        Err(e) => {
            let e = e.into_service_error();
            if !e.is_resource_in_use_exception() {
                return Err(aws_err("the jobs table")(e));
            }
            return Ok(());
        }
    }
    ddb.update_time_to_live()
        .table_name(&names.table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name("expires_at")
                .enabled(true)
                .build()
                .map_err(aws_err("the ttl specification"))?,
        )
        .send()
        .await
        .map_err(|e| aws_err("the jobs table's ttl")(e.into_service_error()))?;
    Ok(())
}

async fn store_secrets(
    aws: &aws_config::SdkConfig,
    names: &ResourceNames,
    values: &SecretValues,
) -> Result<(), ProvisionError> {
    let sm = aws_sdk_secretsmanager::Client::new(aws);
    let smashrun = json!({
        "client_id": values.smashrun_client_id,
        "client_secret": values.smashrun_client_secret,
        "redirect_uri": values.smashrun_redirect_uri,
    });
    let supabase =
        json!({ "url": values.supabase_url, "service_role_key": values.supabase_service_role_key });
    for (id, value, replace) in [
        (&names.smashrun_secret, smashrun.to_string(), true),
        (&names.supabase_secret, supabase.to_string(), true),
        (
            &names.token_key_secret,
            json!({ "key": match &values.token_key {
                Some(key) => key.clone(),
                None => generate_key_base64().map_err(aws_err("the token key"))?,
            } })
            .to_string(),
            false,
        ),
    ] {
        let created = sm
            .create_secret()
            .name(id)
            .secret_string(&value)
            .send()
            .await;
        if let Err(e) = created {
            let e = e.into_service_error();
            if !e.is_resource_exists_exception() {
                return Err(aws_err(format!("secret {id}"))(e));
            }
            if replace {
                sm.put_secret_value()
                    .secret_id(id)
                    .secret_string(&value)
                    .send()
                    .await
                    .map_err(|e| aws_err(format!("secret {id}"))(e.into_service_error()))?;
            }
        }
    }
    Ok(())
}
