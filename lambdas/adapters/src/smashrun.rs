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
                .and_then(|v| retry_after(v, OffsetDateTime::now_utc())),
        },
        s if s.is_server_error() => SmashrunError::Server { status: s.as_u16() },
        s => SmashrunError::Rejected { status: s.as_u16() },
    }
}

/// `Retry-After` in either of its forms: delay seconds, or an HTTP date (a date in the past
/// means now). Anything else is ignored, as if there were no header.
fn retry_after(value: &str, now: OffsetDateTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let at = time::PrimitiveDateTime::parse(value, format)
        .ok()?
        .assume_utc();
    Some(Duration::from_secs((at - now).whole_seconds().max(0) as u64))
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

    async fn list_ids(&self, access_token: &SecretString) -> Result<Vec<i64>, SmashrunError> {
        // No `page` and `count`: SmashRun answers with every id at once.
        match self
            .get_json(access_token, "/my/activities/search/ids", &[])
            .await?
        {
            Value::Array(items) => items
                .iter()
                .map(|id| id.as_i64().filter(|id| *id > 0))
                .collect::<Option<Vec<i64>>>()
                // A listing with one unreadable id is not a listing to delete by.
                .ok_or_else(|| {
                    SmashrunError::Malformed(
                        "the id listing holds a value that is not an id".into(),
                    )
                }),
            _ => Err(SmashrunError::Malformed(
                "the id listing is not a list".into(),
            )),
        }
    }

    async fn activity(
        &self,
        access_token: &SecretString,
        id: i64,
    ) -> Result<Option<Value>, SmashrunError> {
        match self
            .get_json(access_token, &format!("/my/activities/{id}"), &[])
            .await
        {
            Ok(value @ Value::Object(_)) => Ok(Some(value)),
            Ok(_) => Err(SmashrunError::Malformed(
                "an activity is not an object".into(),
            )),
            Err(SmashrunError::Rejected { status: 404 }) => Ok(None),
            Err(e) => Err(e),
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

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = datetime!(2026-12-01 10:00:00 UTC);
        assert_eq!(retry_after(" 120 ", now), Some(Duration::from_secs(120)));
        assert_eq!(
            retry_after("Tue, 01 Dec 2026 10:30:00 GMT", now),
            Some(Duration::from_secs(1_800))
        );
        assert_eq!(
            retry_after("Tue, 01 Dec 2026 09:00:00 GMT", now),
            Some(Duration::ZERO),
            "a date in the past means now"
        );
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(retry_after("-5", now), None);
    }
}
