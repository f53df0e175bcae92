//! The HTTP surface: SmashRun's OAuth and `/v1` routes, plus `/admin` for tests.

mod admin;
mod api;
mod oauth;

use std::collections::HashMap;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, MatchedPath, Path, Query, Request, State};
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::faults::Gate;
use crate::server::Sandbox;

/// An error answer: JSON `{"error", "error_description"}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    error: &'static str,
    description: String,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    pub(crate) fn new(
        status: StatusCode,
        error: &'static str,
        description: impl Into<String>,
    ) -> Self {
        Self {
            status,
            error,
            description: description.into(),
            headers: Vec::new(),
        }
    }

    pub(crate) fn bad_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    pub(crate) fn not_found(description: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", description)
    }

    pub(crate) fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.error, "error_description": self.description });
        let mut response = json_response(self.status, body.to_string());
        for (name, value) in self.headers {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

/// A JSON answer from already serialised text.
pub(crate) fn json_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [(
            CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

pub(crate) fn json_value(status: StatusCode, value: &Value) -> Response {
    json_response(status, value.to_string())
}

/// Query parameters, or a 400 if the query string cannot be decoded.
pub(crate) fn query_map(
    query: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
) -> Result<HashMap<String, String>, ApiError> {
    query.map(|Query(map)| map).map_err(|e| {
        ApiError::bad_request(format!(
            "the query string cannot be decoded: {}",
            e.body_text()
        ))
    })
}

/// A path parameter whose rejection (say, `%FF` in the path) is a JSON 400 like every other error.
#[derive(Debug)]
pub(crate) struct PathParam<T>(pub(crate) T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> FromRequestParts<S> for PathParam<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(Self(value)),
            Err(e) => Err(ApiError::bad_request(format!(
                "invalid path: {}",
                e.body_text()
            ))),
        }
    }
}

pub(crate) fn router(sandbox: Sandbox) -> Router {
    let authenticated = Router::new()
        .route("/v1/my/userinfo", get(api::userinfo))
        .route("/v1/my/activities", get(api::search))
        .route("/v1/my/activities/search", get(api::search))
        .route("/v1/my/activities/search/briefs", get(api::briefs))
        .route("/v1/my/activities/search/ids", get(api::ids))
        .route("/v1/my/activities/{id}", get(api::activity))
        .route("/v1/my/stats", get(api::stats))
        .route("/v1/my/stats/{year}", get(api::stats_year))
        .route("/v1/my/stats/{year}/{month}", get(api::stats_month))
        .route_layer(middleware::from_fn_with_state(
            sandbox.clone(),
            require_token,
        ));
    let v1 = authenticated
        .route("/v1/auth/{token}", get(api::token_status))
        .route_layer(middleware::from_fn_with_state(sandbox.clone(), faults_gate));
    let counted = v1
        .route(
            "/oauth2/authenticate",
            get(oauth::authenticate).post(oauth::approve),
        )
        .route("/oauth2/token", post(oauth::token))
        .route_layer(middleware::from_fn_with_state(
            sandbox.clone(),
            count_and_log,
        ));
    counted
        .merge(admin::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(sandbox)
}

async fn not_found(request: Request) -> ApiError {
    ApiError::not_found(format!(
        "no route for {} {}",
        request.method(),
        request.uri().path()
    ))
}

async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "{} is not allowed on {}",
            request.method(),
            request.uri().path()
        ),
    )
}

/// Counts every request by method and route template, and logs it (never the path or query: they may hold a
/// token).
async fn count_and_log(
    State(sandbox): State<Sandbox>,
    matched: MatchedPath,
    request: Request,
    next: Next,
) -> Response {
    let key = format!("{} {}", request.method(), matched.as_str());
    sandbox.lock().counters.record(key.clone());
    let response = next.run(request).await;
    // The route template, not the path: `/v1/auth/{token}` carries a token.
    tracing::info!(route = %key, status = response.status().as_u16(), "request");
    response
}

/// Delay, dropped connections, failures and the rate limit, in that order.
async fn faults_gate(State(sandbox): State<Sandbox>, request: Request, next: Next) -> Response {
    let delay = sandbox.lock().faults.faults.delay_ms;
    if delay > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
    }
    let now = sandbox.now();
    let gate = sandbox.lock().faults.gate(now);
    match gate {
        Gate::Pass => next.run(request).await,
        Gate::Drop => Response::new(Body::new(DroppedBody)),
        Gate::Fail(status) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let error = match status.as_u16() {
                429 => "rate_limit_exceeded",
                500..=599 => "server_error",
                _ => "injected_fault",
            };
            ApiError::new(status, error, format!("injected fault: {status}")).into_response()
        }
        Gate::Limited(retry_after) => {
            let error = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_exceeded",
                "Too many requests in the last hour",
            );
            match retry_after {
                Some(seconds) => error
                    .with_header(RETRY_AFTER, HeaderValue::from(seconds))
                    .into_response(),
                None => error.into_response(),
            }
        }
    }
}

/// The access token from `Authorization: Bearer` or `?access_token=`.
fn access_token(headers: &HeaderMap, request: &Request) -> Option<String> {
    if let Some(value) = headers.get(axum::http::header::AUTHORIZATION) {
        let text = value.to_str().ok()?.trim();
        let (scheme, token) = text.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_owned());
    }
    let Query(query) = Query::<HashMap<String, String>>::try_from_uri(request.uri()).ok()?;
    query
        .into_iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("access_token"))
        .map(|(_, v)| v)
}

pub(crate) fn invalid_token(description: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", description).with_header(
        WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer error=\"invalid_token\""),
    )
}

async fn require_token(State(sandbox): State<Sandbox>, request: Request, next: Next) -> Response {
    let Some(token) = access_token(request.headers(), &request) else {
        return invalid_token(
            "An access token is required (Authorization: Bearer or access_token=)",
        )
        .into_response();
    };
    let now = sandbox.now();
    if sandbox.lock().auth.check_access(&token, now).is_none() {
        return invalid_token("The access token is invalid, expired or revoked").into_response();
    }
    next.run(request).await
}

/// A body that fails at once, so the server closes the connection without a complete answer.
struct DroppedBody;

impl http_body::Body for DroppedBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        Poll::Ready(Some(Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "sandbox fault: connection dropped",
        ))))
    }
}
