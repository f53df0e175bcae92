//! `GET /me`: who the key belongs to, their SmashRun link and its health, the key itself.

use axum::Json;
use axum::extract::State;
use stk_protocol::Me;

use crate::auth::CallerKey;
use crate::{ApiError, AppState};

pub async fn me(State(state): State<AppState>, caller: CallerKey) -> Result<Json<Me>, ApiError> {
    match state.keys.me(&caller.key).await {
        Ok(Some(me)) => Ok(Json(me)),
        // Revoked between the key check and this read.
        Ok(None) => Err(ApiError::Unauthorized(
            "unknown or revoked api key: run `stk auth login` to get a new one".into(),
        )),
        Err(e) => Err(ApiError::unavailable(e)),
    }
}
