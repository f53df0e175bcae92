//! The Supabase database through its PostgREST interface, over the workspace's reqwest.
//!
//! A small typed client instead of the `postgrest` crate (see docs/adr/0002): filtered selects,
//! PATCH, POST and `rpc/` calls are all this project needs. Aggregations run in SQL functions:
//! PostgREST caps every response (1000 rows on Supabase), so nothing here pulls all rows.

use std::sync::Arc;

use async_trait::async_trait;
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use stk_core::activity::Run;
use stk_core::auth::ApiKeyHash;
use stk_core::job::{SourceCheckpoint, rfc3339};
use stk_core::ports::{
    ApiKeyStore, DeletionGuard, Reconciled, RunQuery, RunStore, RunnerViews, SmashrunSource,
    SmashrunUser, SourceStore, UpsertCounts, UserDirectory,
};
use stk_core::settings::SettingsChange;
use stk_core::tokens::TokenSet;
use stk_core::{JobId, StoreError, UserId};
use stk_protocol::{MonthlyTotals, Records, RunList, Settings, Stats, StreakSummary};
use time::OffsetDateTime;
use tracing::{Instrument, info_span};

use crate::crypto::{CryptoError, TokenCipher};
use crate::http::{BodyError, boxed, read_limited};
use crate::secrets::{SecretCache, SupabaseCredentials, TokenKeySecret};

const SOURCE: &str = "smashrun";

#[derive(Debug, Clone)]
pub struct Supabase {
    http: reqwest::Client,
    secrets: Arc<SecretCache>,
    supabase_secret_id: String,
    token_key_secret_id: String,
}

/// What a PostgREST call sends.
enum Body<'a> {
    Json(&'a Value),
    /// A JSON document as text, for a function with one unnamed `text` parameter: PostgREST
    /// hands it over without parsing it.
    Document(String),
}

/// Run-count summary computed in SQL.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RunSummary {
    pub run_count: u64,
    pub total_distance_km: f64,
    pub longest_streak: u32,
}

impl Supabase {
    pub fn new(
        http: reqwest::Client,
        secrets: Arc<SecretCache>,
        supabase_secret_id: String,
        token_key_secret_id: String,
    ) -> Self {
        Self {
            http,
            secrets,
            supabase_secret_id,
            token_key_secret_id,
        }
    }

    async fn cipher(&self) -> Result<TokenCipher, StoreError> {
        let secret: TokenKeySecret = self
            .secrets
            .json(&self.token_key_secret_id)
            .await
            .map_err(|e| StoreError::Credentials(boxed(e)))?;
        TokenCipher::from_base64(&secret.key).map_err(|e| StoreError::Credentials(boxed(e)))
    }

    /// One PostgREST call. `path` is relative to the REST base, e.g. `rpc/upsert_runs`.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Body<'_>>,
        prefer: Option<&str>,
    ) -> Result<T, StoreError> {
        let creds: SupabaseCredentials = self
            .secrets
            .json(&self.supabase_secret_id)
            .await
            .map_err(|e| StoreError::Credentials(boxed(e)))?;
        let key = creds.service_role_key.expose_secret();
        let mut request = self
            .http
            .request(
                method,
                format!("{}/{path}", creds.url.trim_end_matches('/')),
            )
            .query(query)
            // Supabase's gateway wants `apikey`; PostgREST itself reads the bearer token.
            .header("apikey", key)
            .bearer_auth(key)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(prefer) = prefer {
            request = request.header("Prefer", prefer);
        }
        match body {
            Some(Body::Json(body)) => request = request.json(body),
            Some(Body::Document(text)) => {
                request = request
                    .header(reqwest::header::CONTENT_TYPE, "text/plain; charset=utf-8")
                    .body(text);
            }
            None => {}
        }
        let response = request
            .send()
            .await
            .map_err(|e| StoreError::Unavailable(boxed(e.without_url())))?;
        let status = response.status();
        let bytes = read_limited(response).await.map_err(|e| match e {
            BodyError::Transport(e) => StoreError::Unavailable(boxed(e.without_url())),
            BodyError::TooLarge => StoreError::Malformed(e.to_string()),
        })?;
        if !status.is_success() {
            return Err(status_error(status, &bytes));
        }
        let bytes = if bytes.is_empty() {
            b"null".to_vec()
        } else {
            bytes
        };
        serde_json::from_slice(&bytes).map_err(|e| StoreError::Malformed(format!("{path}: {e}")))
    }

    async fn rpc<T: DeserializeOwned>(&self, function: &str, args: Value) -> Result<T, StoreError> {
        self.call(
            Method::POST,
            &format!("rpc/{function}"),
            &[],
            Some(Body::Json(&args)),
            None,
        )
        .instrument(info_span!("store_rpc", function))
        .await
    }

    /// Counts computed by the database, for checks and the demo.
    pub async fn run_summary(&self, user: UserId) -> Result<RunSummary, StoreError> {
        let rows: Vec<RunSummary> = self
            .call(
                Method::POST,
                "rpc/run_summary",
                &[],
                Some(Body::Json(&json!({ "p_user_id": user }))),
                None,
            )
            .await?;
        rows.into_iter()
            .next()
            .ok_or_else(|| StoreError::Malformed("run_summary returned no row".into()))
    }

    /// The user a SmashRun account is linked to.
    pub async fn user_for_smashrun_account(
        &self,
        source_user_id: &str,
    ) -> Result<Option<UserId>, StoreError> {
        let rows: Vec<UserRow> = self
            .call(
                Method::GET,
                "user_sources",
                &[
                    ("source", format!("eq.{SOURCE}")),
                    ("source_user_id", format!("eq.{source_user_id}")),
                    ("select", "user_id".into()),
                ],
                None,
                None,
            )
            .await?;
        Ok(rows.first().map(|row| row.user_id))
    }

    async fn link_once(
        &self,
        user: UserId,
        account: &SmashrunUser,
        tokens: &TokenSet,
    ) -> Result<UserId, StoreError> {
        let ciphertext = self
            .cipher()
            .await?
            .encrypt(user, SOURCE, tokens)
            .map_err(crypto_error)?;
        self.call(
            Method::POST,
            "rpc/link_smashrun_source",
            &[],
            Some(Body::Json(&json!({
                "p_user_id": user,
                "p_source_user_id": account.id,
                "p_user_name": account.user_name,
                "p_display_name": account.display_name,
                "p_tokens_ciphertext": ciphertext,
                "p_token_expires_at": rfc3339(tokens.expires_at),
                "p_token_refreshed_at": rfc3339(tokens.issued_at),
            }))),
            None,
        )
        .await
    }
}

fn crypto_error(e: CryptoError) -> StoreError {
    match e {
        CryptoError::Decrypt => StoreError::Decrypt,
        other => StoreError::Credentials(boxed(other)),
    }
}

/// PostgREST's error body carries `code`, `message`, `details`: only the code is kept, as the
/// others can quote data.
fn status_error(status: StatusCode, body: &[u8]) -> StoreError {
    let code = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("code").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default();
    if status.is_server_error() && code.is_empty() || status == StatusCode::SERVICE_UNAVAILABLE {
        // The gateway or PostgREST itself (e.g. PGRST002 while its schema cache loads).
        return StoreError::Unavailable(format!("postgrest answered {status} {code}").into());
    }
    StoreError::Rejected {
        status: status.as_u16(),
        code,
    }
}

#[derive(Deserialize)]
struct SourceRow {
    source_user_id: String,
    tokens_ciphertext: String,
    tokens_version: i64,
    #[serde(with = "time::serde::rfc3339::option", default)]
    sync_cursor: Option<OffsetDateTime>,
    #[serde(default)]
    sync_checkpoint: Option<Value>,
}

#[derive(Deserialize)]
struct UserRow {
    user_id: UserId,
}

#[async_trait]
impl RunStore for Supabase {
    async fn upsert_runs(
        &self,
        user: UserId,
        runs: &[Run],
        job: JobId,
        checkpoint: &SourceCheckpoint,
    ) -> Result<UpsertCounts, StoreError> {
        #[derive(Deserialize)]
        struct Counts {
            inserted: u64,
            updated: u64,
            unchanged: u64,
        }
        #[derive(Serialize)]
        struct Document<'a> {
            p_user_id: UserId,
            p_source: &'a str,
            p_runs: &'a [Run],
            p_job_id: JobId,
            p_checkpoint: &'a SourceCheckpoint,
        }
        let document = serde_json::to_string(&Document {
            p_user_id: user,
            p_source: SOURCE,
            p_runs: runs,
            p_job_id: job,
            p_checkpoint: checkpoint,
        })
        .map_err(|e| StoreError::Malformed(format!("a run could not be serialised: {e}")))?;
        let rows: Vec<Counts> = self
            .call(
                Method::POST,
                "rpc/upsert_runs_document",
                &[],
                Some(Body::Document(document)),
                None,
            )
            .instrument(info_span!("store_upsert_runs", runs = runs.len()))
            .await?;
        let counts = rows
            .first()
            .ok_or_else(|| StoreError::Malformed("upsert_runs returned no row".into()))?;
        Ok(UpsertCounts {
            inserted: counts.inserted,
            updated: counts.updated,
            unchanged: counts.unchanged,
        })
    }

    async fn reconcile(
        &self,
        user: UserId,
        listed: &[i64],
        guard: Option<DeletionGuard>,
        max_absent: u32,
        _job: JobId,
    ) -> Result<Reconciled, StoreError> {
        #[derive(Deserialize)]
        struct Found {
            stored: u64,
            unlisted: u64,
            marked: u64,
            absent: Vec<i64>,
        }
        let found: Found = self
            .rpc(
                "reconcile_listing",
                json!({
                    "p_user_id": user,
                    "p_source": SOURCE,
                    "p_listed": listed,
                    "p_max_runs": guard.map(|g| g.max_runs),
                    "p_max_percent": guard.map(|g| g.max_percent),
                    "p_max_absent": max_absent,
                }),
            )
            .instrument(info_span!("store_reconcile_listing", listed = listed.len()))
            .await?;
        Ok(Reconciled {
            unlisted: found.unlisted,
            marked: found.marked,
            stored: found.stored,
            absent: found.absent,
        })
    }

    async fn job_counts(&self, user: UserId, job: JobId) -> Result<(u64, u64), StoreError> {
        #[derive(Deserialize)]
        struct Counts {
            inserted: u64,
            updated: u64,
        }
        let rows: Vec<Counts> = self
            .rpc(
                "job_run_counts",
                json!({ "p_user_id": user, "p_source": SOURCE, "p_job_id": job }),
            )
            .instrument(info_span!("store_job_counts"))
            .await?;
        let counts = rows
            .first()
            .ok_or_else(|| StoreError::Malformed("job_run_counts returned no row".into()))?;
        Ok((counts.inserted, counts.updated))
    }
}

#[async_trait]
impl SourceStore for Supabase {
    async fn smashrun_source(&self, user: UserId) -> Result<Option<SmashrunSource>, StoreError> {
        let rows: Vec<SourceRow> = self
            .call(
                Method::GET,
                "user_sources",
                &[
                    ("user_id", format!("eq.{user}")),
                    ("source", format!("eq.{SOURCE}")),
                    ("active", "is.true".into()),
                    (
                        "select",
                        "source_user_id,tokens_ciphertext,tokens_version,sync_cursor,sync_checkpoint"
                            .into(),
                    ),
                    ("order", "updated_at.desc".into()),
                    ("limit", "1".into()),
                ],
                None,
                None,
            )
            .await?;
        let Some(row) = rows.into_iter().next() else {
            return Ok(None);
        };
        let tokens = self
            .cipher()
            .await?
            .decrypt(user, SOURCE, &row.tokens_ciphertext)
            .map_err(crypto_error)?;
        Ok(Some(SmashrunSource {
            source_user_id: row.source_user_id,
            tokens,
            tokens_version: row.tokens_version,
            sync_cursor: row.sync_cursor,
            // A checkpoint this version cannot read is only a lost head start.
            checkpoint: row
                .sync_checkpoint
                .and_then(|c| serde_json::from_value(c).ok()),
        }))
    }

    async fn save_tokens(
        &self,
        user: UserId,
        source_user_id: &str,
        tokens: &TokenSet,
        expected_version: i64,
    ) -> Result<Option<i64>, StoreError> {
        let ciphertext = self
            .cipher()
            .await?
            .encrypt(user, SOURCE, tokens)
            .map_err(crypto_error)?;
        self.rpc(
            "save_tokens_if_current",
            json!({
                "p_user_id": user,
                "p_source_user_id": source_user_id,
                "p_expected_version": expected_version,
                "p_tokens_ciphertext": ciphertext,
                "p_token_expires_at": rfc3339(tokens.expires_at),
                "p_token_refreshed_at": rfc3339(tokens.issued_at),
            }),
        )
        .await
    }

    async fn mark_needs_relink(
        &self,
        user: UserId,
        source_user_id: &str,
    ) -> Result<(), StoreError> {
        let _: Value = self
            .call(
                Method::PATCH,
                "user_sources",
                &source_filter(user, source_user_id),
                Some(Body::Json(&json!({
                    "needs_relink": true,
                    "updated_at": rfc3339(OffsetDateTime::now_utc()),
                }))),
                Some("return=minimal"),
            )
            .await?;
        Ok(())
    }

    async fn record_sync(
        &self,
        user: UserId,
        source_user_id: &str,
        cursor: Option<OffsetDateTime>,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut patch = json!({ "last_sync_at": rfc3339(at), "sync_checkpoint": null });
        if let Some(cursor) = cursor {
            patch["sync_cursor"] = json!(rfc3339(cursor));
        }
        let _: Value = self
            .call(
                Method::PATCH,
                "user_sources",
                &source_filter(user, source_user_id),
                Some(Body::Json(&patch)),
                Some("return=minimal"),
            )
            .await?;
        Ok(())
    }

    async fn link_smashrun(
        &self,
        account: &SmashrunUser,
        tokens: &TokenSet,
    ) -> Result<UserId, StoreError> {
        let mut user = self
            .user_for_smashrun_account(&account.id)
            .await?
            .unwrap_or_else(|| UserId::new(uuid::Uuid::new_v4()));
        // The tokens are encrypted for one user; if the account turns out to be another's,
        // encrypt for that one and try again.
        for _ in 0..3 {
            let owner = self.link_once(user, account, tokens).await?;
            if owner == user {
                return Ok(user);
            }
            user = owner;
        }
        Err(StoreError::Malformed(
            "the smashrun account kept changing owner while linking".into(),
        ))
    }
}

fn source_filter(user: UserId, source_user_id: &str) -> Vec<(&'static str, String)> {
    vec![
        ("user_id", format!("eq.{user}")),
        ("source", format!("eq.{SOURCE}")),
        ("source_user_id", format!("eq.{source_user_id}")),
    ]
}

#[async_trait]
impl ApiKeyStore for Supabase {
    async fn user_for_key(&self, hash: &ApiKeyHash) -> Result<Option<UserId>, StoreError> {
        self.rpc("api_key_user", json!({ "p_key_hash": hash.as_str() }))
            .await
    }

    async fn revoke(&self, hash: &ApiKeyHash, all: bool) -> Result<u64, StoreError> {
        self.rpc(
            "revoke_api_keys",
            json!({ "p_key_hash": hash.as_str(), "p_all": all }),
        )
        .await
    }

    async fn me(&self, hash: &ApiKeyHash) -> Result<Option<stk_protocol::Me>, StoreError> {
        self.rpc("me", json!({ "p_key_hash": hash.as_str() })).await
    }

    async fn insert_key(
        &self,
        user: UserId,
        hash: &ApiKeyHash,
        prefix: &str,
        label: &str,
    ) -> Result<(), StoreError> {
        let _: Value = self
            .call(
                Method::POST,
                "api_keys",
                &[],
                Some(Body::Json(&json!({
                    "user_id": user,
                    "key_hash": hash.as_str(),
                    "key_prefix": prefix,
                    "label": label,
                }))),
                Some("return=minimal"),
            )
            .await?;
        Ok(())
    }
}

#[async_trait]
impl RunnerViews for Supabase {
    async fn streak(&self, user: UserId, top: u32) -> Result<StreakSummary, StoreError> {
        self.rpc("streak_summary", json!({ "p_user_id": user, "p_top": top }))
            .await
    }

    async fn stats(&self, user: UserId) -> Result<Stats, StoreError> {
        self.rpc("overall_stats", json!({ "p_user_id": user }))
            .await
    }

    async fn monthly(&self, user: UserId, limit: u32) -> Result<MonthlyTotals, StoreError> {
        self.rpc(
            "monthly_totals",
            json!({ "p_user_id": user, "p_limit": limit }),
        )
        .await
    }

    async fn records(&self, user: UserId) -> Result<Records, StoreError> {
        self.rpc("records", json!({ "p_user_id": user })).await
    }

    async fn runs(&self, user: UserId, query: RunQuery) -> Result<RunList, StoreError> {
        self.rpc(
            "list_runs",
            json!({
                "p_user_id": user,
                "p_since": query.since,
                "p_until": query.until,
                "p_limit": query.limit,
                "p_offset": query.offset,
            }),
        )
        .await
    }

    async fn settings(&self, user: UserId) -> Result<Settings, StoreError> {
        let rows: Vec<Settings> = self
            .call(
                Method::GET,
                "users",
                &[
                    ("id", format!("eq.{user}")),
                    ("select", "time_zone,min_streak_distance_km".into()),
                ],
                None,
                None,
            )
            .await?;
        rows.into_iter()
            .next()
            .ok_or_else(|| StoreError::Malformed("the api key's user has no record".into()))
    }

    async fn time_zone_exists(&self, name: &str) -> Result<bool, StoreError> {
        self.rpc("time_zone_exists", json!({ "p_name": name }))
            .await
    }

    async fn update_settings(
        &self,
        user: UserId,
        change: &SettingsChange,
    ) -> Result<Settings, StoreError> {
        let mut patch = json!({ "updated_at": rfc3339(OffsetDateTime::now_utc()) });
        if let Some(zone) = &change.time_zone {
            patch["time_zone"] = json!(zone);
        }
        if let Some(km) = change.min_streak_distance_km {
            patch["min_streak_distance_km"] = json!(km);
        }
        let rows: Vec<Settings> = self
            .call(
                Method::PATCH,
                "users",
                &[
                    ("id", format!("eq.{user}")),
                    ("select", "time_zone,min_streak_distance_km".into()),
                ],
                Some(Body::Json(&patch)),
                Some("return=representation"),
            )
            .await?;
        rows.into_iter()
            .next()
            .ok_or_else(|| StoreError::Malformed("the api key's user has no record".into()))
    }
}

#[async_trait]
impl UserDirectory for Supabase {
    async fn active_smashrun_users(
        &self,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<UserId>, StoreError> {
        let mut query = vec![
            ("source", format!("eq.{SOURCE}")),
            ("active", "is.true".to_owned()),
            // SmashRun refused these tokens: syncing them again cannot work until a new login.
            ("needs_relink", "is.false".to_owned()),
            ("select", "user_id".to_owned()),
            ("order", "user_id.asc".to_owned()),
            ("limit", limit.to_string()),
        ];
        if let Some(after) = after {
            query.push(("user_id", format!("gt.{after}")));
        }
        let rows: Vec<UserRow> = self
            .call(Method::GET, "user_sources", &query, None, None)
            .instrument(info_span!("store_active_users"))
            .await?;
        Ok(rows.into_iter().map(|row| row.user_id).collect())
    }
}
