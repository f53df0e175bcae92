//! Real implementations of the core's ports: DynamoDB jobs, the SQS queue, Secrets Manager,
//! the SmashRun HTTP client, the Supabase (PostgREST) store and token encryption.
//! `Adapters::from_env` is the one place that reads the environment and builds clients.

pub mod aws_http;
pub mod config;
pub mod crypto;
pub mod dynamo;
pub mod http;
pub mod secrets;
pub mod sessions;
pub mod smashrun;
pub mod sqs;
pub mod supabase;
pub mod telemetry;

use std::sync::Arc;

pub use config::{ConfigError, Settings};
pub use stk_core::BoxError;

use crate::dynamo::DynamoJobs;
use crate::secrets::SecretCache;
use crate::sessions::DynamoSessions;
use crate::smashrun::SmashrunClient;
use crate::sqs::SqsQueue;
use crate::supabase::Supabase;

/// Every client a Lambda needs, built once per cold start.
#[derive(Debug, Clone)]
pub struct Adapters {
    pub settings: Settings,
    pub jobs: Arc<DynamoJobs>,
    pub sessions: Arc<DynamoSessions>,
    pub queue: Arc<SqsQueue>,
    pub secrets: Arc<SecretCache>,
    pub smashrun: Arc<SmashrunClient>,
    pub store: Arc<Supabase>,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("could not build the http client")]
    Http(#[source] reqwest::Error),
}

impl Adapters {
    /// Reads the settings from the environment and the AWS configuration from the usual chain
    /// (`AWS_ENDPOINT_URL` points it at a local stack).
    ///
    /// The AWS SDK sends through the same HTTP client as the adapters: one connection pool and
    /// one TLS configuration, whose roots load on the first handshake, not during the cold start.
    pub async fn from_env() -> Result<Self, BuildError> {
        let settings = Settings::from_env()?;
        let http = http::client().map_err(BuildError::Http)?;
        let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(aws_http::sdk_http_client(http.clone()))
            .load()
            .await;
        Ok(Self::with_http(settings, &aws, http))
    }

    /// Adapters over `aws` (its own HTTP client), for the local stack and the tests.
    pub fn build(settings: Settings, aws: &aws_config::SdkConfig) -> Result<Self, BuildError> {
        let http = http::client().map_err(BuildError::Http)?;
        Ok(Self::with_http(settings, aws, http))
    }

    fn with_http(settings: Settings, aws: &aws_config::SdkConfig, http: reqwest::Client) -> Self {
        let secrets = Arc::new(SecretCache::new(
            aws_sdk_secretsmanager::Client::new(aws),
            settings.secret_ttl,
        ));
        let smashrun = Arc::new(SmashrunClient::new(
            http.clone(),
            settings.smashrun.clone(),
            secrets.clone(),
            settings.secret_ids.smashrun.clone(),
        ));
        let store = Arc::new(Supabase::new(
            http,
            secrets.clone(),
            settings.secret_ids.supabase.clone(),
            settings.secret_ids.token_key.clone(),
        ));
        let dynamodb = aws_sdk_dynamodb::Client::new(aws);
        Self {
            jobs: Arc::new(DynamoJobs::new(
                dynamodb.clone(),
                settings.jobs_table.clone(),
            )),
            sessions: Arc::new(DynamoSessions::new(dynamodb, settings.jobs_table.clone())),
            queue: Arc::new(SqsQueue::new(
                aws_sdk_sqs::Client::new(aws),
                settings.queue_url.clone(),
            )),
            secrets,
            smashrun,
            store,
            settings,
        }
    }
}
