//! The caller's identity, derived from their API key and nothing else.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use stk_core::UserId;
use stk_core::auth::ApiKey;

use crate::{ApiError, AppState};

/// The authenticated user of a request.
#[derive(Debug, Clone, Copy)]
pub struct Caller(pub UserId);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .map(|v| v.to_str().unwrap_or_default());
        let key = ApiKey::from_authorization(header)
            .map_err(|e| ApiError::Unauthorized(format!("{e}; run `stk auth login` to get one")))?;
        match state.keys.user_for_key(&key.hash()).await {
            Ok(Some(user)) => Ok(Self(user)),
            Ok(None) => Err(ApiError::Unauthorized(
                "unknown or revoked api key: run `stk auth login` to get a new one".into(),
            )),
            Err(e) => Err(ApiError::unavailable(e)),
        }
    }
}
