//! The login function (API Gateway sends `/auth/*` here): login sessions, SmashRun's OAuth
//! callback, key pickup and logging out. It is the only function besides the worker that may
//! read the SmashRun client secret and the token key.
//!
//! | route | answer |
//! |---|---|
//! | `POST /auth/sessions {secret_sha256}` | 201 the session and SmashRun's consent URL |
//! | `GET /auth/callback?code&state` | an HTML page: linked, or why not |
//! | `POST /auth/callback {code, state}` | 200 `{name}`: a code pasted by hand |
//! | `POST /auth/sessions/{id}/token {session_secret}` | 202 pending, then 200 the key once, then 410 |
//! | `POST /auth/logout {all?}` | 200 `{revoked}` (with the key to revoke) |

mod pages;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use secrecy::SecretString;
use stk_adapters::Adapters;
use stk_api::ApiError;
use stk_api::auth::{CallerKey, KeyLookup};
use stk_api::body;
use stk_core::clock::SystemClock;
use stk_core::login::{
    CallbackParams, LoginError, LoginService, POLL_INTERVAL, Pickup, SecretHash, SessionId,
};
use stk_core::ports::ApiKeyStore;
use stk_protocol::{
    IssuedKey, KeyPickup, Linked, LoggedOut, LoginPending, LoginPendingStatus, LoginSession,
    LoginSessionRequest, LogoutRequest, ManualCallback,
};
use time::format_description::well_known::Rfc3339;

/// A session secret is 256 random bits; anything far longer is not one.
const MAX_SECRET_LEN: usize = 256;

#[derive(Debug, Clone)]
pub struct AuthState {
    pub login: LoginService,
    pub keys: Arc<dyn ApiKeyStore>,
}

impl KeyLookup for AuthState {
    fn keys(&self) -> &Arc<dyn ApiKeyStore> {
        &self.keys
    }
}

impl AuthState {
    /// Wires the real adapters in (the composition root's last step).
    pub fn from_adapters(adapters: &Adapters) -> Self {
        Self {
            login: LoginService::new(
                adapters.sessions.clone(),
                adapters.smashrun.clone(),
                adapters.store.clone(),
                adapters.store.clone(),
                Arc::new(SystemClock),
            ),
            keys: adapters.store.clone(),
        }
    }
}

pub fn router(state: AuthState) -> Router {
    stk_api::serve(routes(state))
}

/// The login routes, without the shared layers (`stk_api::serve` adds them).
pub fn routes(state: AuthState) -> Router {
    Router::new()
        .route("/auth/sessions", post(start))
        .route("/auth/sessions/{id}/token", post(pickup))
        .route(
            "/auth/callback",
            get(browser_callback).post(manual_callback),
        )
        .route("/auth/logout", post(logout))
        .with_state(state)
}

/// Keys and session details must not be kept by any cache on the way.
fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn start(
    State(state): State<AuthState>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let request: LoginSessionRequest = body::json(&headers, raw, "login session")?;
    let hash = SecretHash::parse(&request.secret_sha256).ok_or_else(|| {
        ApiError::InvalidBody(
            "secret_sha256 must be the SHA-256 of the session secret, as 64 lowercase hex characters"
                .into(),
        )
    })?;
    let started = state.login.start(hash).await.map_err(api_error)?;
    let session = LoginSession {
        session_id: started.session.id.to_string(),
        authorize_url: started.authorize_url,
        expires_at: started
            .session
            .expires_at
            .format(&Rfc3339)
            .map_err(|_| ApiError::Internal)?,
        poll_interval_ms: POLL_INTERVAL.as_millis() as u64,
        state: started.session.state.as_str().to_owned(),
    };
    Ok(no_store(
        (StatusCode::CREATED, Json(session)).into_response(),
    ))
}

async fn pickup(
    State(state): State<AuthState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let request: KeyPickup = body::json(&headers, raw, "key pickup")?;
    // A malformed id is answered like an unknown one, and like a wrong secret.
    let id = SessionId::parse(&id).ok_or_else(|| api_error(LoginError::UnknownSession))?;
    if request.session_secret.is_empty() || request.session_secret.len() > MAX_SECRET_LEN {
        return Err(api_error(LoginError::UnknownSession));
    }
    let secret = SecretString::from(request.session_secret);
    match state.login.pickup(id, &secret).await.map_err(api_error)? {
        Pickup::Pending => Ok(no_store(
            (
                StatusCode::ACCEPTED,
                Json(LoginPending {
                    status: LoginPendingStatus::Pending,
                }),
            )
                .into_response(),
        )),
        Pickup::Issued { key, user, name } => Ok(no_store(
            Json(IssuedKey {
                api_key: key.expose().to_owned(),
                user_id: user.to_string(),
                name,
            })
            .into_response(),
        )),
    }
}

async fn browser_callback(
    State(state): State<AuthState>,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let params = CallbackParams {
        code: query.get("code").cloned(),
        state: query.get("state").cloned(),
        error: query.get("error").cloned(),
    };
    let page = match state.login.callback(params).await {
        Ok(name) => pages::signed_in(&name),
        Err(e) => {
            // The reason is the runner-facing text (no code, state or token is in it).
            tracing::warn!(status = callback_status(&e).as_u16(), reason = %e, error = %stk_core::error::chain(&e), "sign-in refused");
            pages::failed(callback_status(&e), &e.to_string())
        }
    };
    no_store(page)
}

async fn manual_callback(
    State(state): State<AuthState>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<Linked>, ApiError> {
    let request: ManualCallback = body::json(&headers, raw, "callback")?;
    let params = CallbackParams {
        code: Some(request.code.trim().to_owned()).filter(|c| !c.is_empty()),
        state: Some(request.state),
        error: None,
    };
    let name = state.login.callback(params).await.map_err(|e| {
        tracing::warn!(reason = %e, "pasted sign-in refused");
        api_error(e)
    })?;
    Ok(Json(Linked { name }))
}

async fn logout(
    State(state): State<AuthState>,
    caller: CallerKey,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<LoggedOut>, ApiError> {
    let request: LogoutRequest = body::json_or_default(&headers, raw, "logout")?;
    let revoked = state
        .keys
        .revoke(&caller.key, request.all)
        .await
        .map_err(ApiError::unavailable)?;
    tracing::info!(user = %caller.user, revoked, all = request.all, "logged out");
    Ok(Json(LoggedOut { revoked }))
}

/// The status of the page the browser is shown.
fn callback_status(e: &LoginError) -> StatusCode {
    match e {
        LoginError::BadState | LoginError::Exchange(_) => StatusCode::BAD_REQUEST,
        LoginError::StateUsed => StatusCode::CONFLICT,
        LoginError::Expired | LoginError::Spent | LoginError::UnknownSession => StatusCode::GONE,
        LoginError::Denied => StatusCode::FORBIDDEN,
        LoginError::Failed(_) => StatusCode::BAD_REQUEST,
        LoginError::Smashrun(_) => StatusCode::BAD_GATEWAY,
        LoginError::Sessions(_) | LoginError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        LoginError::Random => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The JSON routes' answers; causes of 5xx are logged by `ApiError`, never sent.
fn api_error(e: LoginError) -> ApiError {
    match e {
        LoginError::BadState | LoginError::Exchange(_) | LoginError::Denied => {
            ApiError::InvalidRequest(e.to_string())
        }
        LoginError::UnknownSession => ApiError::NotFound(
            "no such login session, or not yours: run `stk auth login` again".into(),
        ),
        LoginError::StateUsed => ApiError::Gone("state_used", e.to_string()),
        LoginError::Expired => ApiError::Gone("session_expired", e.to_string()),
        LoginError::Spent => ApiError::Gone("session_spent", e.to_string()),
        LoginError::Failed(_) => ApiError::Gone("login_failed", e.to_string()),
        LoginError::Smashrun(_) | LoginError::Sessions(_) | LoginError::Store(_) => {
            ApiError::unavailable(e)
        }
        LoginError::Random => ApiError::Internal,
    }
}
