//! The local stack's connection settings, as `scripts/stack.sh up` writes them to `.stack/env`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The repository root, from this crate's location.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Values from the environment, falling back to `.stack/env` for what it does not set.
#[derive(Debug, Clone)]
pub struct StackEnv(HashMap<String, String>);

#[derive(Debug, thiserror::Error)]
pub enum StackEnvError {
    #[error("{0} is not set and .stack/env does not have it: run `scripts/stack.sh up` first")]
    Missing(String),
}

impl StackEnv {
    pub fn load() -> Self {
        let mut values = HashMap::new();
        if let Ok(text) = std::fs::read_to_string(repo_root().join(".stack/env")) {
            for line in text.lines() {
                let line = line.trim().trim_start_matches("export ").trim();
                if let Some((k, v)) = line.split_once('=') {
                    values.insert(k.to_owned(), v.trim_matches(['"', '\'']).to_owned());
                }
            }
        }
        for (k, v) in std::env::vars() {
            values.insert(k, v);
        }
        Self(values)
    }

    pub fn get(&self, name: &str) -> Result<&str, StackEnvError> {
        self.0
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| StackEnvError::Missing(name.to_owned()))
    }

    pub fn get_or<'a>(&'a self, name: &str, default: &'a str) -> &'a str {
        self.0.get(name).map_or(default, String::as_str)
    }

    /// An AWS SDK configuration pointed at moto.
    pub async fn aws(&self) -> Result<aws_config::SdkConfig, StackEnvError> {
        let endpoint = self.get("AWS_ENDPOINT_URL")?.to_owned();
        let region = self.get_or("AWS_REGION", "us-east-1").to_owned();
        let credentials = aws_sdk_sqs::config::Credentials::new(
            self.get_or("AWS_ACCESS_KEY_ID", "test"),
            self.get_or("AWS_SECRET_ACCESS_KEY", "test"),
            None,
            None,
            "local-stack",
        );
        Ok(aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(endpoint)
            .region(aws_config::Region::new(region))
            .credentials_provider(credentials)
            .load()
            .await)
    }
}
