//! The runner's views and settings: `GET /streak`, `/stats`, `/stats/monthly`, `/records`,
//! `/runs`, `/runs/recent`, `GET`/`PATCH /settings`.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use stk_core::ports::RunQuery;
use stk_core::settings::{SettingsChange, SettingsError};
use stk_protocol::{
    MonthlyTotals, Records, RunList, Settings, SettingsPatch, Stats, StreakSummary,
};

use crate::auth::Caller;
use crate::params::Params;
use crate::{ApiError, AppState};

type Q = Result<Query<HashMap<String, String>>, QueryRejection>;

/// A view from the store as a JSON answer; a store failure is a 503 (cause logged, not sent).
fn served<T>(view: Result<T, stk_core::StoreError>) -> Result<Json<T>, ApiError> {
    view.map(Json).map_err(ApiError::unavailable)
}

pub async fn streak(
    State(state): State<AppState>,
    Caller(user): Caller,
    query: Q,
) -> Result<Json<StreakSummary>, ApiError> {
    let params = Params::parse(query, &["top"])?;
    let top = params.int("top", 0..=50, 5)?;
    served(state.views.streak(user, top as u32).await)
}

pub async fn stats(
    State(state): State<AppState>,
    Caller(user): Caller,
    query: Q,
) -> Result<Json<Stats>, ApiError> {
    Params::parse(query, &[])?;
    served(state.views.stats(user).await)
}

pub async fn monthly(
    State(state): State<AppState>,
    Caller(user): Caller,
    query: Q,
) -> Result<Json<MonthlyTotals>, ApiError> {
    let params = Params::parse(query, &["limit"])?;
    let limit = params.int("limit", 1..=600, 12)?;
    served(state.views.monthly(user, limit as u32).await)
}

pub async fn records(
    State(state): State<AppState>,
    Caller(user): Caller,
    query: Q,
) -> Result<Json<Records>, ApiError> {
    Params::parse(query, &[])?;
    served(state.views.records(user).await)
}

pub async fn runs(
    State(state): State<AppState>,
    Caller(user): Caller,
    query: Q,
) -> Result<Json<RunList>, ApiError> {
    let params = Params::parse(query, &["since", "until", "limit", "offset"])?;
    let since = params.date("since")?;
    let until = params.date("until")?;
    if let (Some(s), Some(u)) = (since, until)
        && s > u
    {
        return Err(ApiError::InvalidRequest(format!(
            "`since` ({s}) is after `until` ({u}): swap them or drop one"
        )));
    }
    let query = RunQuery {
        since,
        until,
        limit: params.int("limit", 1..=500, 50)? as u32,
        offset: params.int("offset", 0..=10_000_000, 0)?,
    };
    served(state.views.runs(user, query).await)
}

pub async fn recent(
    State(state): State<AppState>,
    Caller(user): Caller,
    query: Q,
) -> Result<Json<RunList>, ApiError> {
    let params = Params::parse(query, &["limit"])?;
    let query = RunQuery {
        since: None,
        until: None,
        limit: params.int("limit", 1..=100, 10)? as u32,
        offset: 0,
    };
    served(state.views.runs(user, query).await)
}

pub async fn get_settings(
    State(state): State<AppState>,
    Caller(user): Caller,
) -> Result<Json<Settings>, ApiError> {
    served(state.views.settings(user).await)
}

pub async fn patch_settings(
    State(state): State<AppState>,
    Caller(user): Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Settings>, ApiError> {
    let patch: SettingsPatch = crate::body::json(&headers, body, "settings")?;
    let change =
        SettingsChange::parse(patch).map_err(|e| ApiError::InvalidRequest(e.to_string()))?;
    if let Some(zone) = &change.time_zone
        && !state
            .views
            .time_zone_exists(zone)
            .await
            .map_err(ApiError::unavailable)?
    {
        return Err(ApiError::InvalidRequest(
            SettingsError::UnknownZone(zone.clone()).to_string(),
        ));
    }
    served(state.views.update_settings(user, &change).await)
}
