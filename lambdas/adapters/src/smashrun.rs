//! SmashRun's REST API and OAuth token endpoint over reqwest.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;
use stk_core::SmashrunError;
use stk_core::ports::{SmashrunApi, SmashrunUser};
use stk_core::tokens::TokenGrant;
use time::OffsetDateTime;

use crate::config::SmashrunUrls;
use crate::http::{BodyError, boxed, read_limited};
use crate::secrets::{SecretCache, SmashrunCredentials};

#[derive(Debug, Clone)]
pub struct SmashrunClient {
    http: reqwest::Client,
    urls: SmashrunUrls,
    secrets: Arc<SecretCache>,
    secret_id: String,
}

impl SmashrunClient {
    pub fn new(
        http: reqwest::Client,
        urls: SmashrunUrls,
        secrets: Arc<SecretCache>,
        secret_id: String,
    ) -> Self {
        Self {
            http,
            urls,
            secrets,
            secret_id,
        }
    }

    async fn credentials(&self) -> Result<SmashrunCredentials, SmashrunError> {
        self.secrets
            .json(&self.secret_id)
            .await
            .map_err(|e| SmashrunError::Transport(boxed(e)))
    }

    async fn get_json(
        &self,
        token: &SecretString,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Value, SmashrunError> {
        let response = self
            .http
            .get(format!("{}{path}", self.urls.api))
            .bearer_auth(token.expose_secret())
            .query(query)
            .send()
            .await
            .map_err(|e| SmashrunError::Transport(boxed(e.without_url())))?;
        let status = response.status();
        if !status.is_success() {
            return Err(status_error(status, &response));
        }
        parse_body(response).await
    }

    async fn token_request(&self, form: &[(&str, &str)]) -> Result<TokenGrant, SmashrunError> {
        let creds = self.credentials().await?;
        let mut fields: Vec<(&str, &str)> = vec![
            ("client_id", creds.client_id.as_str()),
            ("client_secret", creds.client_secret.expose_secret()),
        ];
        fields.extend_from_slice(form);
        let response = self
            .http
            .post(format!("{}/oauth2/token", self.urls.auth))
            .form(&fields)
            .send()
            .await
            .map_err(|e| SmashrunError::Transport(boxed(e.without_url())))?;
        let status = response.status();
        if status.is_success() {
            let body: TokenResponse =
                serde_json::from_value(parse_body(response).await?).map_err(|e| {
                    SmashrunError::Malformed(format!("token answer: {}", e.classify_str()))
                })?;
            return Ok(TokenGrant {
                access_token: body.access_token.into(),
                refresh_token: body.refresh_token.filter(|t| !t.is_empty()).map(Into::into),
                expires_in: Duration::from_secs(
                    body.expires_in
                        .unwrap_or(7_257_600)
                        .clamp(60, 10 * 365 * 86_400),
                ),
            });
        }
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            return Err(status_error(status, &response));
        }
        let error = parse_body(response)
            .await
            .ok()
            .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_default();
        Err(match error.as_str() {
            "invalid_client" => SmashrunError::InvalidClient,
            "invalid_grant" => SmashrunError::InvalidGrant(error),
            _ if status == StatusCode::UNAUTHORIZED => SmashrunError::InvalidClient,
            _ => SmashrunError::Rejected {
                status: status.as_u16(),
            },
        })
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

trait ClassifyStr {
    fn classify_str(&self) -> &'static str;
}

impl ClassifyStr for serde_json::Error {
    fn classify_str(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Data => "a field is missing or has the wrong type",
            _ => "not valid JSON",
        }
    }
}

fn status_error(status: StatusCode, response: &reqwest::Response) -> SmashrunError {
    match status {
        StatusCode::UNAUTHORIZED => SmashrunError::Unauthorized,
        StatusCode::TOO_MANY_REQUESTS => SmashrunError::RateLimited {
            retry_after: response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs),
        },
        s if s.is_server_error() => SmashrunError::Server { status: s.as_u16() },
        s => SmashrunError::Rejected { status: s.as_u16() },
    }
}

async fn parse_body(response: reqwest::Response) -> Result<Value, SmashrunError> {
    let bytes = read_limited(response).await.map_err(|e| match e {
        BodyError::Transport(e) => SmashrunError::Transport(boxed(e.without_url())),
        BodyError::TooLarge => SmashrunError::Malformed(e.to_string()),
    })?;
    stk_core::activity::parse_answer(&bytes)
        .map_err(|e| SmashrunError::Malformed(e.classify_str().to_owned()))
}

#[async_trait]
impl SmashrunApi for SmashrunClient {
    async fn search_page(
        &self,
        access_token: &SecretString,
        page: u32,
        count: u32,
        since: Option<OffsetDateTime>,
    ) -> Result<Vec<Value>, SmashrunError> {
        let mut query = vec![("page", page.to_string()), ("count", count.to_string())];
        if let Some(since) = since {
            query.push(("fromDateUTC", since.unix_timestamp().max(0).to_string()));
        }
        match self
            .get_json(access_token, "/my/activities/search", &query)
            .await?
        {
            Value::Array(items) => Ok(items),
            _ => Err(SmashrunError::Malformed(
                "activity search did not return a list".into(),
            )),
        }
    }

    async fn run_count(&self, access_token: &SecretString) -> Result<Option<u64>, SmashrunError> {
        let stats = self.get_json(access_token, "/my/stats", &[]).await?;
        Ok(stats.get("runCount").and_then(Value::as_u64))
    }

    async fn refresh(&self, refresh_token: &SecretString) -> Result<TokenGrant, SmashrunError> {
        self.token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose_secret()),
        ])
        .await
    }

    /// The consent page a runner is sent to; only the server knows the client id and the
    /// registered redirect URI.
    async fn authorize_url(&self, state: &str) -> Result<String, SmashrunError> {
        let creds = self.credentials().await?;
        let mut url = reqwest::Url::parse(&format!("{}/oauth2/authenticate", self.urls.auth))
            .map_err(|e| SmashrunError::Malformed(format!("bad smashrun auth url: {e}")))?;
        url.query_pairs_mut()
            .append_pair("client_id", &creds.client_id)
            .append_pair("scope", "read_activity")
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", &creds.redirect_uri)
            .append_pair("state", state);
        Ok(url.into())
    }

    async fn exchange_code(&self, code: &str) -> Result<TokenGrant, SmashrunError> {
        let creds = self.credentials().await?;
        self.token_request(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &creds.redirect_uri),
        ])
        .await
    }

    async fn user_info(&self, access_token: &SecretString) -> Result<SmashrunUser, SmashrunError> {
        let info = self.get_json(access_token, "/my/userinfo", &[]).await?;
        let id = match info.get("id") {
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => return Err(SmashrunError::Malformed("userinfo has no id".into())),
        };
        let text = |key: &str| {
            info.get(key)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let display_name = match (text("firstName"), text("lastName")) {
            (Some(first), Some(last)) => Some(format!("{first} {last}")),
            (first, last) => first.or(last),
        };
        Ok(SmashrunUser {
            id,
            user_name: text("userName"),
            display_name,
        })
    }
}
