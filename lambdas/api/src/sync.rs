//! `POST /sync`, `GET /sync/{id}`, `GET /sync`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use stk_core::JobId;
use stk_core::job::SyncSpec;
use stk_core::service::{SubmitError, Submitted};
use stk_protocol::{IDEMPOTENCY_KEY_HEADER, SyncJobList, SyncRequestBody};

use crate::auth::Caller;
use crate::{ApiError, AppState};

const DEFAULT_LIST_LIMIT: u32 = 20;
const MAX_LIST_LIMIT: u32 = 100;

pub async fn create(
    State(state): State<AppState>,
    Caller(user): Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let request: SyncRequestBody = crate::body::json_or_default(&headers, body, "sync")?;
    let spec = SyncSpec::parse(request).map_err(|e| ApiError::InvalidRequest(e.to_string()))?;
    let idempotency_key = idempotency_key(&headers)?;

    let submitted = state
        .jobs
        .submit(user, spec, idempotency_key.as_deref())
        .await
        .map_err(|e| match e {
            SubmitError::Jobs(e) => ApiError::unavailable(e),
            SubmitError::Queue(e) => ApiError::unavailable(e),
        })?;
    let (status, job) = match submitted {
        Submitted::New(job) => (StatusCode::ACCEPTED, job),
        Submitted::Existing(job) => (StatusCode::OK, job),
    };
    let location = format!("/sync/{}", job.id);
    Ok((
        status,
        [(header::LOCATION, location)],
        Json(job.to_protocol()),
    )
        .into_response())
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY_HEADER) else {
        return Ok(None);
    };
    let key = value.to_str().unwrap_or_default();
    let valid = (1..=128).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic());
    if valid {
        Ok(Some(key.to_owned()))
    } else {
        Err(ApiError::InvalidRequest(
            "Idempotency-Key must be 1 to 128 visible ASCII characters".into(),
        ))
    }
}

fn no_such_job(id: &str) -> ApiError {
    let shown: String = id.chars().take(64).collect();
    ApiError::NotFound(format!(
        "no sync job `{shown}` for this account: `stk sync list` shows yours"
    ))
}

pub async fn get(
    State(state): State<AppState>,
    Caller(user): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let job_id: JobId = id.parse().map_err(|_| no_such_job(&id))?;
    let job = state
        .jobs
        .get(user, job_id)
        .await
        .map_err(ApiError::unavailable)?
        .ok_or_else(|| no_such_job(&id))?;
    Ok(Json(job.to_protocol()).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    limit: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    Caller(user): Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query
        .map_err(|_| ApiError::InvalidRequest("the only query parameter is `limit`".into()))?;
    let limit = match query.limit {
        None => DEFAULT_LIST_LIMIT,
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=MAX_LIST_LIMIT).contains(l))
            .ok_or_else(|| {
                ApiError::InvalidRequest(format!(
                    "`limit` must be a whole number from 1 to {MAX_LIST_LIMIT}"
                ))
            })?,
    };
    let jobs = state
        .jobs
        .list(user, limit)
        .await
        .map_err(ApiError::unavailable)?;
    Ok(Json(SyncJobList {
        jobs: jobs.iter().map(|j| j.to_protocol()).collect(),
    })
    .into_response())
}
