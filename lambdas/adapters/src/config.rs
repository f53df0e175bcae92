//! Typed settings, read from the environment once. Only names and URLs live there: every
//! credential comes from Secrets Manager.

use std::time::Duration;

/// Default resource names. `infra/names.json` is their source of truth: Terraform reads it, the
/// local stack provisions with these, and a test keeps the two equal.
pub mod names {
    pub const JOBS_TABLE: &str = "myrunstreak-jobs";
    pub const JOBS_BY_USER_INDEX: &str = "by_user";
    pub const QUEUE: &str = "myrunstreak-sync-jobs";
    pub const DEAD_LETTER_QUEUE: &str = "myrunstreak-sync-jobs-dlq";
    pub const SMASHRUN_SECRET: &str = "myrunstreak/smashrun";
    pub const SUPABASE_SECRET: &str = "myrunstreak/supabase";
    pub const TOKEN_KEY_SECRET: &str = "myrunstreak/token-key";
    /// SQS `maxReceiveCount`: deliveries before a message moves to the dead-letter queue.
    /// Receives before SQS dead-letters a message. High: a job's message comes back for every
    /// wait and hand-over, and the engine fails a job on its own count of faults and crashes.
    pub const MAX_RECEIVE_COUNT: u32 = 50;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretIds {
    pub smashrun: String,
    pub supabase: String,
    pub token_key: String,
}

/// Where SmashRun lives. Every URL is configurable so the sandbox can stand in for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmashrunUrls {
    /// REST base, e.g. `https://api.smashrun.com/v1`.
    pub api: String,
    /// OAuth base: `{auth}/oauth2/authenticate` and `{auth}/oauth2/token`.
    pub auth: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub jobs_table: String,
    pub queue_url: String,
    pub secret_ids: SecretIds,
    pub smashrun: SmashrunUrls,
    /// How long a secret read from Secrets Manager is trusted before it is read again.
    pub secret_ttl: Duration,
    /// The window the nightly syncs are spread over (at most 15 minutes, SQS's longest delay).
    pub nightly_spread: Duration,
    /// The dead-letter queue the worker also consumes: its jobs are failed with a reason.
    pub dead_letter_queue: String,
    /// SmashRun requests one job may make per hour before it waits.
    pub smashrun_hourly_budget: u32,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error(
        "{0} is not set: set it in the function's environment (see the configuration table in README.md)"
    )]
    Missing(&'static str),
    #[error("{name} is not valid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &'static str, default: Option<&str>| -> Result<String, ConfigError> {
            lookup(name)
                .filter(|v| !v.trim().is_empty())
                .or_else(|| default.map(str::to_owned))
                .ok_or(ConfigError::Missing(name))
        };
        let url = |name: &'static str, default: &str| -> Result<String, ConfigError> {
            let value = get(name, Some(default))?;
            if value.starts_with("https://") || value.starts_with("http://") {
                Ok(value.trim_end_matches('/').to_owned())
            } else {
                Err(ConfigError::Invalid {
                    name,
                    reason: "expected an http(s) URL".into(),
                })
            }
        };
        let ttl_secs = get("STK_SECRET_TTL_SECS", Some("300"))?;
        let secret_ttl = ttl_secs
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|_| ConfigError::Invalid {
                name: "STK_SECRET_TTL_SECS",
                reason: "expected a whole number of seconds".into(),
            })?;
        let spread_secs = get("STK_NIGHTLY_SPREAD_SECS", Some("900"))?;
        let nightly_spread = spread_secs
            .parse::<u64>()
            .ok()
            .filter(|&s| s <= 900)
            .map(Duration::from_secs)
            .ok_or(ConfigError::Invalid {
                name: "STK_NIGHTLY_SPREAD_SECS",
                reason: "expected a whole number of seconds from 0 to 900 (SQS's longest delay)"
                    .into(),
            })?;
        let budget = get("STK_SMASHRUN_HOURLY_BUDGET", Some("250"))?;
        let smashrun_hourly_budget =
            budget
                .parse::<u32>()
                .ok()
                .filter(|&b| b >= 3)
                .ok_or(ConfigError::Invalid {
                    name: "STK_SMASHRUN_HOURLY_BUDGET",
                    reason: "expected a whole number of requests, at least 3".into(),
                })?;
        Ok(Self {
            jobs_table: get("STK_JOBS_TABLE", Some(names::JOBS_TABLE))?,
            dead_letter_queue: get("STK_DEAD_LETTER_QUEUE", Some(names::DEAD_LETTER_QUEUE))?,
            smashrun_hourly_budget,
            queue_url: get("STK_QUEUE_URL", None)?,
            secret_ids: SecretIds {
                smashrun: get("STK_SMASHRUN_SECRET_ID", Some(names::SMASHRUN_SECRET))?,
                supabase: get("STK_SUPABASE_SECRET_ID", Some(names::SUPABASE_SECRET))?,
                token_key: get("STK_TOKEN_KEY_SECRET_ID", Some(names::TOKEN_KEY_SECRET))?,
            },
            smashrun: SmashrunUrls {
                api: url("STK_SMASHRUN_API_URL", "https://api.smashrun.com/v1")?,
                auth: url("STK_SMASHRUN_AUTH_URL", "https://secure.smashrun.com")?,
            },
            secret_ttl,
            nightly_spread,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_infrastructure_source_of_truth() {
        let infra: serde_json::Value =
            serde_json::from_str(include_str!("../../../infra/names.json")).unwrap();
        assert_eq!(infra["jobs_table"], names::JOBS_TABLE);
        assert_eq!(infra["jobs_by_user_index"], names::JOBS_BY_USER_INDEX);
        assert_eq!(infra["queue"], names::QUEUE);
        assert_eq!(infra["dead_letter_queue"], names::DEAD_LETTER_QUEUE);
        assert_eq!(infra["smashrun_secret"], names::SMASHRUN_SECRET);
        assert_eq!(infra["supabase_secret"], names::SUPABASE_SECRET);
        assert_eq!(infra["token_key_secret"], names::TOKEN_KEY_SECRET);
        assert_eq!(infra["max_receive_count"], names::MAX_RECEIVE_COUNT);
    }

    #[test]
    fn defaults_apply_and_the_queue_is_required() {
        let err = Settings::from_lookup(|_| None).unwrap_err();
        assert_eq!(err, ConfigError::Missing("STK_QUEUE_URL"));
        let settings = Settings::from_lookup(|name| {
            (name == "STK_QUEUE_URL").then(|| "http://localhost/q".to_owned())
        })
        .unwrap();
        assert_eq!(settings.jobs_table, names::JOBS_TABLE);
        assert_eq!(settings.smashrun.api, "https://api.smashrun.com/v1");
    }

    #[test]
    fn urls_are_checked_and_trimmed() {
        let settings = Settings::from_lookup(|name| match name {
            "STK_QUEUE_URL" => Some("q".into()),
            "STK_SMASHRUN_API_URL" => Some("http://127.0.0.1:1/v1/".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(settings.smashrun.api, "http://127.0.0.1:1/v1");
        let err = Settings::from_lookup(|name| match name {
            "STK_QUEUE_URL" => Some("q".into()),
            "STK_SMASHRUN_AUTH_URL" => Some("secure.smashrun.com".into()),
            _ => None,
        })
        .unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Invalid {
                name: "STK_SMASHRUN_AUTH_URL",
                ..
            }
        ));
    }
}
