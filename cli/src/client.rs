//! The typed HTTP client for the API (syncs, views and settings). Every answer is decoded into `stk-protocol` types;
//! every failure becomes a [`CliError`] that says what to do.

use std::time::{Duration, Instant};

use reqwest::header::{AUTHORIZATION, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use stk_protocol::{
    ErrorBody, IDEMPOTENCY_KEY_HEADER, IsoDate, IssuedKey, KeyPickup, Linked, LoggedOut,
    LoginSession, LoginSessionRequest, LogoutRequest, ManualCallback, Me, MonthlyTotals, Records,
    RunList, Settings, SettingsPatch, Stats, StreakSummary, SyncJob, SyncJobList, SyncRequestBody,
};

use crate::config::{ApiKey, ConfigError, KeySource};
use crate::error::CliError;
use crate::output::Log;
use crate::render::clean;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Parses the API's base URL. A trailing slash is tolerated; a path (an API Gateway stage) is kept.
pub fn parse_base_url(raw: &str) -> Result<Url, ConfigError> {
    let bad = |reason: &str| ConfigError::BadApiUrl {
        url: clean(raw).into_owned(),
        reason: reason.to_owned(),
    };
    let trimmed = raw.trim().trim_end_matches('/');
    if trimmed.is_empty() {
        return Err(ConfigError::NoApiUrl);
    }
    let url = Url::parse(trimmed).map_err(|err| bad(&err.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err(bad("expected an http:// or https:// address"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("remove the query string or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("remove the user name and password"));
    }
    if is_insecure(&url) {
        return Err(bad(
            "plain http:// would send your API key unencrypted, and is allowed only to this machine (localhost, 127.0.0.1, [::1]): use https://",
        ));
    }
    Ok(url)
}

/// True for `http://` to anything but this machine: the API key would travel in clear text.
pub fn is_insecure(url: &Url) -> bool {
    if url.scheme() != "http" {
        return false;
    }
    let host = url.host_str().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host
        .parse::<std::net::IpAddr>()
        .map(|ip| ip.is_loopback())
        .unwrap_or(host.eq_ignore_ascii_case("localhost"));
    !loopback
}

/// What `POST /sync` answered.
#[derive(Debug, Clone)]
pub struct Started {
    pub job: SyncJob,
    /// `202`: a new job. `200`: the job already active for this account (or the same idempotency key).
    pub created: bool,
}

/// Filters and page of `GET /runs`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunsQuery {
    pub since: Option<IsoDate>,
    pub until: Option<IsoDate>,
    pub limit: Option<u32>,
    pub offset: Option<u64>,
}

impl RunsQuery {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        if let Some(since) = self.since {
            pairs.push(("since", since.to_string()));
        }
        if let Some(until) = self.until {
            pairs.push(("until", until.to_string()));
        }
        if let Some(limit) = self.limit {
            pairs.push(("limit", limit.to_string()));
        }
        if let Some(offset) = self.offset {
            pairs.push(("offset", offset.to_string()));
        }
        pairs
    }
}

/// The API, authenticated with one API key (or with none, to log in).
#[derive(Debug)]
pub struct ApiClient {
    http: reqwest::Client,
    base: Url,
    auth: Option<HeaderValue>,
    key_source: KeySource,
    log: Log,
}

/// What `POST /auth/sessions/{id}/token` answered.
#[derive(Debug)]
pub enum PickupAnswer {
    Pending,
    Issued(IssuedKey),
}

impl ApiClient {
    pub fn new(base: Url, key: &ApiKey, key_source: KeySource, log: Log) -> Result<Self, CliError> {
        let source_name = match &key_source {
            KeySource::Env => crate::config::API_KEY_ENV.to_owned(),
            KeySource::File(path) => path.display().to_string(),
        };
        let mut auth = HeaderValue::try_from(format!("Bearer {}", key.expose()))
            .map_err(|_| ConfigError::ApiKeyUnsendable(source_name))?;
        auth.set_sensitive(true);
        Self::build(base, Some(auth), key_source, log)
    }

    /// A client that sends no key: for the login routes, which hand one out.
    pub fn anonymous(base: Url, log: Log) -> Result<Self, CliError> {
        Self::build(base, None, KeySource::Env, log)
    }

    fn build(
        base: Url,
        auth: Option<HeaderValue>,
        key_source: KeySource,
        log: Log,
    ) -> Result<Self, CliError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("stk/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            // The API never redirects; following one could send the key somewhere else.
            .redirect(reqwest::redirect::Policy::none())
            // Its roots load on the first TLS handshake: never, for a local `http://` API.
            .tls_backend_preconfigured(stk_tls::client_config())
            .build()
            .map_err(|source| CliError::Unreachable {
                url: base.to_string(),
                cause: "could not set up the HTTP client".into(),
                source,
            })?;
        Ok(Self {
            http,
            base,
            auth,
            key_source,
            log,
        })
    }

    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// Where the API key came from (never the key).
    pub fn key_source(&self) -> &KeySource {
        &self.key_source
    }

    /// `POST /sync` with a fresh idempotency key.
    pub async fn start_sync(
        &self,
        body: &SyncRequestBody,
        idempotency_key: &str,
    ) -> Result<Started, CliError> {
        let url = self.endpoint(&["sync"]);
        let request = self
            .http
            .post(url.clone())
            .json(body)
            .header(IDEMPOTENCY_KEY_HEADER, idempotency_key);
        self.log
            .debug(format_args!("idempotency key {idempotency_key}"));
        let (status, bytes) = self.send(Method::POST, &url, request).await?;
        let job = self.decode("POST /sync", status, &bytes, None)?;
        Ok(Started {
            job,
            created: status != StatusCode::OK,
        })
    }

    /// `GET /sync/{id}`.
    pub async fn job(&self, id: &str) -> Result<SyncJob, CliError> {
        let url = self.endpoint(&["sync", id]);
        let (status, bytes) = self
            .send(Method::GET, &url, self.http.get(url.clone()))
            .await?;
        self.decode(&format!("GET /sync/{id}"), status, &bytes, Some(id))
    }

    /// `GET /sync`: the account's recent jobs, newest first.
    pub async fn jobs(&self) -> Result<SyncJobList, CliError> {
        let url = self.endpoint(&["sync"]);
        let (status, bytes) = self
            .send(Method::GET, &url, self.http.get(url.clone()))
            .await?;
        self.decode("GET /sync", status, &bytes, None)
    }

    /// `GET /streak`.
    pub async fn streak(&self) -> Result<StreakSummary, CliError> {
        self.get(&["streak"], &[]).await
    }

    /// `GET /stats`.
    pub async fn stats(&self) -> Result<Stats, CliError> {
        self.get(&["stats"], &[]).await
    }

    /// `GET /stats/monthly?limit=N`: newest month first.
    pub async fn monthly(&self, limit: u32) -> Result<MonthlyTotals, CliError> {
        self.get(&["stats", "monthly"], &[("limit", limit.to_string())])
            .await
    }

    /// `GET /records`.
    pub async fn records(&self) -> Result<Records, CliError> {
        self.get(&["records"], &[]).await
    }

    /// `GET /runs?since&until&limit&offset`: newest first.
    pub async fn runs(&self, query: &RunsQuery) -> Result<RunList, CliError> {
        self.get(&["runs"], &query.pairs()).await
    }

    /// `GET /runs/recent?limit=N`.
    pub async fn recent(&self, limit: u32) -> Result<RunList, CliError> {
        self.get(&["runs", "recent"], &[("limit", limit.to_string())])
            .await
    }

    /// `GET /settings`.
    pub async fn settings(&self) -> Result<Settings, CliError> {
        self.get(&["settings"], &[]).await
    }

    /// `PATCH /settings`: the settings as they are afterwards.
    pub async fn update_settings(&self, patch: &SettingsPatch) -> Result<Settings, CliError> {
        let url = self.endpoint(&["settings"]);
        let request = self.http.patch(url.clone()).json(patch);
        let (status, bytes) = self.send(Method::PATCH, &url, request).await?;
        self.decode("PATCH /settings", status, &bytes, None)
    }

    /// `POST /auth/sessions`: opens a login session.
    pub async fn open_login(
        &self,
        request: &LoginSessionRequest,
    ) -> Result<LoginSession, CliError> {
        self.post_json(&["auth", "sessions"], request).await
    }

    /// `POST /auth/sessions/{id}/token`: the key, once the runner has signed in.
    pub async fn pickup(&self, id: &str, request: &KeyPickup) -> Result<PickupAnswer, CliError> {
        let url = self.endpoint(&["auth", "sessions", id, "token"]);
        let what = "POST /auth/sessions/{id}/token";
        let (status, bytes) = self
            .send(
                Method::POST,
                &url,
                self.http.post(url.clone()).json(request),
            )
            .await?;
        if status == StatusCode::ACCEPTED {
            return Ok(PickupAnswer::Pending);
        }
        self.decode(what, status, &bytes, None)
            .map(PickupAnswer::Issued)
    }

    /// `POST /auth/callback`: a code pasted by hand.
    pub async fn manual_callback(&self, request: &ManualCallback) -> Result<Linked, CliError> {
        self.post_json(&["auth", "callback"], request).await
    }

    /// `POST /auth/logout`.
    pub async fn logout(&self, all: bool) -> Result<LoggedOut, CliError> {
        self.post_json(&["auth", "logout"], &LogoutRequest { all })
            .await
    }

    /// `GET /me`.
    pub async fn me(&self) -> Result<Me, CliError> {
        self.get(&["me"], &[]).await
    }

    async fn post_json<B: serde::Serialize, T: DeserializeOwned>(
        &self,
        segments: &[&str],
        body: &B,
    ) -> Result<T, CliError> {
        let url = self.endpoint(segments);
        let (status, bytes) = self
            .send(Method::POST, &url, self.http.post(url.clone()).json(body))
            .await?;
        self.decode(
            &format!("POST /{}", segments.join("/")),
            status,
            &bytes,
            None,
        )
    }

    async fn get<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> Result<T, CliError> {
        let mut url = self.endpoint(segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let (status, bytes) = self
            .send(Method::GET, &url, self.http.get(url.clone()))
            .await?;
        self.decode(
            &format!("GET /{}", segments.join("/")),
            status,
            &bytes,
            None,
        )
    }

    /// The base URL with these path segments appended (each one percent-encoded).
    pub fn endpoint(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    async fn send(
        &self,
        method: Method,
        url: &Url,
        request: reqwest::RequestBuilder,
    ) -> Result<(StatusCode, Vec<u8>), CliError> {
        let what = format!("{method} {}", url.path());
        self.log.debug(format_args!("{method} {url}"));
        let started = Instant::now();
        let request = match &self.auth {
            Some(auth) => request.header(AUTHORIZATION, auth.clone()),
            None => request,
        };
        let response = request
            .send()
            .await
            .map_err(|err| self.transport_error(&what, err))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|err| self.transport_error(&what, err))?;
        self.log.debug(format_args!(
            "{what} -> {status} in {} ms ({} bytes)",
            started.elapsed().as_millis(),
            bytes.len()
        ));
        if self.log.verbosity() >= 2 {
            self.log.debug(format_args!(
                "body: {}",
                clean(&String::from_utf8_lossy(&bytes))
            ));
        }
        Ok((status, bytes.to_vec()))
    }

    fn transport_error(&self, what: &str, err: reqwest::Error) -> CliError {
        if err.is_timeout() {
            return CliError::Timeout {
                what: what.to_owned(),
                source: err,
            };
        }
        // The innermost cause says it best ("Connection refused (os error 111)").
        let mut cause: &dyn std::error::Error = &err;
        while let Some(inner) = cause.source() {
            cause = inner;
        }
        let cause = lowercase_first(&cause.to_string());
        CliError::Unreachable {
            url: self.base.to_string(),
            cause,
            source: err,
        }
    }

    fn decode<T: DeserializeOwned>(
        &self,
        what: &str,
        status: StatusCode,
        bytes: &[u8],
        job_id: Option<&str>,
    ) -> Result<T, CliError> {
        if status.is_success() {
            return serde_json::from_slice(bytes).map_err(|err| CliError::BadAnswer {
                what: what.to_owned(),
                cause: err.to_string(),
            });
        }
        let detail = serde_json::from_slice::<ErrorBody>(bytes)
            .ok()
            .map(|body| body.error);
        let request_id = detail.as_ref().and_then(|d| d.request_id.clone());
        let message = detail
            .map(|d| clean(&d.message).into_owned())
            .unwrap_or_else(|| format!("the API answered {status}"));
        Err(match (status, job_id) {
            (StatusCode::UNAUTHORIZED, _) => CliError::Unauthorized {
                key_source: self.key_source.clone(),
                request_id,
            },
            (StatusCode::NOT_FOUND, Some(id)) => CliError::JobNotFound {
                id: clean(id).into_owned(),
                request_id,
            },
            (status, _) if status.is_client_error() => CliError::Refused {
                status: status.as_u16(),
                message,
                request_id,
            },
            (status, _) if status.is_redirection() => CliError::ServerFailed {
                status: status.as_u16(),
                message: format!("{message}: check API_BASE_URL (https:// and the stage path)"),
                request_id,
            },
            (status, _) => CliError::ServerFailed {
                status: status.as_u16(),
                message,
                request_id,
            },
        })
    }
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn client(base: &str) -> ApiClient {
        ApiClient::new(
            parse_base_url(base).unwrap(),
            &ApiKey::new("stk_k").unwrap(),
            KeySource::Env,
            Log::new(0),
        )
        .unwrap()
    }

    #[test]
    fn endpoints_keep_the_stage_and_tolerate_trailing_slashes() {
        assert_eq!(
            client("https://api.example.com/prod/")
                .endpoint(&["sync", "j1"])
                .as_str(),
            "https://api.example.com/prod/sync/j1"
        );
        assert_eq!(
            client("http://127.0.0.1:8080").endpoint(&["sync"]).as_str(),
            "http://127.0.0.1:8080/sync"
        );
        assert_eq!(
            client("http://127.0.0.1:8080//")
                .endpoint(&["sync"])
                .as_str(),
            "http://127.0.0.1:8080/sync"
        );
    }

    #[test]
    fn runs_query_sends_only_what_was_given() {
        assert!(RunsQuery::default().pairs().is_empty());
        let query = RunsQuery {
            since: "2024-01-01".parse().ok(),
            until: None,
            limit: Some(50),
            offset: Some(100),
        };
        assert_eq!(
            query.pairs(),
            [
                ("since", "2024-01-01".to_owned()),
                ("limit", "50".to_owned()),
                ("offset", "100".to_owned())
            ]
        );
    }

    #[test]
    fn job_ids_cannot_escape_their_path_segment() {
        let url = client("https://api.example.com/prod").endpoint(&["sync", "../x?y#z"]);
        assert_eq!(
            url.as_str(),
            "https://api.example.com/prod/sync/..%2Fx%3Fy%23z"
        );
    }

    #[test]
    fn unusable_urls_are_config_errors() {
        assert!(matches!(parse_base_url(" "), Err(ConfigError::NoApiUrl)));
        for bad in [
            "api.example.com",
            "ftp://x",
            "https://x/?a=1",
            "https://u:p@x/",
            "mailto:a@b",
        ] {
            assert!(
                matches!(parse_base_url(bad), Err(ConfigError::BadApiUrl { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn plain_http_is_flagged_unless_local() {
        let insecure = |s: &str| is_insecure(&Url::parse(s).unwrap());
        assert!(insecure("http://api.example.com"));
        assert!(!insecure("https://api.example.com"));
        assert!(!insecure("http://localhost:3000"));
        assert!(!insecure("http://127.0.0.1:3000"));
        assert!(!insecure("http://[::1]:3000"));
    }

    #[test]
    fn error_bodies_become_messages_and_other_bodies_do_not_leak() {
        let c = client("http://127.0.0.1:1");
        let body = br#"{"error":{"code":"invalid_body","message":"`since` is after `until`","request_id":"r-9"}}"#;
        let err = c
            .decode::<SyncJob>("POST /sync", StatusCode::UNPROCESSABLE_ENTITY, body, None)
            .unwrap_err();
        assert_eq!(err.to_string(), "`since` is after `until` (request id r-9)");
        assert_eq!(err.exit_code(), crate::exit::Exit::Refused);

        let err = c
            .decode::<SyncJob>(
                "GET /sync/x",
                StatusCode::INTERNAL_SERVER_ERROR,
                b"Traceback: secret internals",
                Some("x"),
            )
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the API answered 500 Internal Server Error"
        );
        assert_eq!(err.exit_code(), crate::exit::Exit::Unavailable);

        let err = c
            .decode::<SyncJob>("GET /sync/x", StatusCode::NOT_FOUND, b"", Some("x"))
            .unwrap_err();
        assert_eq!(err.to_string(), "no sync job x for this account");

        let err = c
            .decode::<SyncJob>("GET /sync/x", StatusCode::OK, b"<html>", Some("x"))
            .unwrap_err();
        assert_eq!(err.exit_code(), crate::exit::Exit::Unavailable);
        assert!(
            err.to_string()
                .starts_with("could not read the API's answer to GET /sync/x")
        );
    }
}
