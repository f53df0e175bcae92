//! The caller's identity, derived from their API key and nothing else.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use stk_core::UserId;
use stk_core::auth::{ApiKey, ApiKeyHash};
use stk_core::ports::ApiKeyStore;

use crate::ApiError;

/// State that can tell whose a key is: the API's, and the auth function's.
pub trait KeyLookup: Send + Sync {
    fn keys(&self) -> &Arc<dyn ApiKeyStore>;
}

/// The authenticated user of a request.
#[derive(Debug, Clone, Copy)]
pub struct Caller(pub UserId);

/// The authenticated user and the key they used (for `/me` and logging out).
#[derive(Debug, Clone)]
pub struct CallerKey {
    pub user: UserId,
    pub key: ApiKeyHash,
}

impl<S: KeyLookup> FromRequestParts<S> for CallerKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .map(|v| v.to_str().unwrap_or_default());
        let key = ApiKey::from_authorization(header)
            .map_err(|e| ApiError::Unauthorized(format!("{e}; run `stk auth login` to get one")))?;
        let hash = key.hash();
        match state.keys().user_for_key(&hash).await {
            Ok(Some(user)) => Ok(Self { user, key: hash }),
            Ok(None) => Err(ApiError::Unauthorized(
                "unknown or revoked api key: run `stk auth login` to get a new one".into(),
            )),
            Err(e) => Err(ApiError::unavailable(e)),
        }
    }
}

impl<S: KeyLookup> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        CallerKey::from_request_parts(parts, state)
            .await
            .map(|caller| Self(caller.user))
    }
}
