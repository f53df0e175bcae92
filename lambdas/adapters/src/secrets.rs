//! Secrets Manager, read at first use and cached for a while, so a rotated secret is picked up
//! without a redeploy and a warm Lambda does not call Secrets Manager on every request.

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, Instant};

use secrecy::SecretString;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;
use tracing::{Instrument, debug, info_span};

use crate::BoxError;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("could not read secret `{id}` from secrets manager")]
    Unavailable {
        id: String,
        #[source]
        source: BoxError,
    },
    #[error("secret `{id}` has no string value")]
    Empty { id: String },
    // serde's message names the missing or mistyped field, never the value.
    #[error("secret `{id}` is not in the expected JSON shape: {reason}")]
    Shape { id: String, reason: String },
}

pub struct SecretCache {
    client: aws_sdk_secretsmanager::Client,
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, SecretString)>>,
}

impl fmt::Debug for SecretCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretCache")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl SecretCache {
    pub fn new(client: aws_sdk_secretsmanager::Client, ttl: Duration) -> Self {
        Self {
            client,
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The secret's JSON value, parsed into `T`.
    pub async fn json<T: DeserializeOwned>(&self, id: &str) -> Result<T, SecretError> {
        let raw = self.raw(id).await?;
        serde_json::from_str(secrecy::ExposeSecret::expose_secret(&raw)).map_err(|e| {
            SecretError::Shape {
                id: id.to_owned(),
                reason: format!("{} at column {}", classify(&e), e.column()),
            }
        })
    }

    async fn raw(&self, id: &str) -> Result<SecretString, SecretError> {
        let mut entries = self.entries.lock().await;
        if let Some((fetched, value)) = entries.get(id)
            && fetched.elapsed() < self.ttl
        {
            return Ok(value.clone());
        }
        let output = self
            .client
            .get_secret_value()
            .secret_id(id)
            .send()
            .instrument(info_span!("read_secret", secret_id = id))
            .await
            .map_err(|e| SecretError::Unavailable {
                id: id.to_owned(),
                source: Box::new(e.into_service_error()),
            })?;
        let value = SecretString::from(
            output
                .secret_string()
                .ok_or_else(|| SecretError::Empty { id: id.to_owned() })?
                .to_owned(),
        );
        debug!(secret_id = id, "secret read and cached");
        entries.insert(id.to_owned(), (Instant::now(), value.clone()));
        Ok(value)
    }
}

// serde_json's messages can quote the input; keep only the category.
fn classify(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Data => "a field is missing or has the wrong type",
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => "not valid JSON",
        serde_json::error::Category::Io => "unreadable",
    }
}

/// `myrunstreak/smashrun`: the OAuth client registered with SmashRun.
#[derive(Debug, Deserialize)]
pub struct SmashrunCredentials {
    pub client_id: String,
    pub client_secret: SecretString,
    /// The redirect URI registered with SmashRun for this client: the API's `/auth/callback`.
    pub redirect_uri: String,
}

/// `myrunstreak/supabase`: where the database's REST interface is and the service-role key.
#[derive(Debug, Deserialize)]
pub struct SupabaseCredentials {
    /// PostgREST base URL (`https://<project>.supabase.co/rest/v1` on Supabase).
    pub url: String,
    pub service_role_key: SecretString,
}

/// `myrunstreak/token-key`: base64 of the 32-byte AES-256-GCM key for SmashRun tokens.
#[derive(Debug, Deserialize)]
pub struct TokenKeySecret {
    pub key: SecretString,
}
