//! `/admin` routes for tests and demos (no authentication, not counted).

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use time::Duration;

use super::api::parse_id;
use super::{ApiError, PathParam, json_response, json_value, query_map};
use crate::activity::{Activity, Fields};
use crate::server::Sandbox;
use crate::timefmt;

pub(super) fn router() -> Router<Sandbox> {
    Router::new()
        .route("/admin/summary", get(summary))
        .route("/admin/activities", get(list_activities).post(add_activity))
        .route(
            "/admin/activities/{id}",
            get(get_activity)
                .patch(patch_activity)
                .delete(delete_activity),
        )
        .route("/admin/counters", get(counters))
        .route("/admin/counters/reset", post(reset_counters))
        .route("/admin/tokens/expire", post(expire_tokens))
        .route("/admin/tokens/revoke", post(revoke_tokens))
        .route(
            "/admin/faults",
            get(get_faults).post(set_faults).delete(clear_faults),
        )
        .route("/admin/clock", get(clock))
        .route("/admin/clock/advance", post(advance_clock))
}

/// A JSON body, or a 400 saying what is wrong with it. An empty body is `{}`.
fn json_body(body: Result<Bytes, BytesRejection>) -> Result<Value, ApiError> {
    let bytes = body
        .map_err(|e| ApiError::bad_request(format!("cannot read the body: {}", e.body_text())))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("the body is not valid JSON: {e}")))
}

fn json_object(
    body: Result<Bytes, BytesRejection>,
) -> Result<serde_json::Map<String, Value>, ApiError> {
    match json_body(body)? {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::bad_request("the body must be a JSON object")),
    }
}

async fn summary(State(sandbox): State<Sandbox>) -> Response {
    let summary = sandbox.summary();
    json_response(
        StatusCode::OK,
        serde_json::to_string(&summary).unwrap_or_default(),
    )
}

/// `GET /admin/activities`: every activity, newest first, without a token.
async fn list_activities(State(sandbox): State<Sandbox>) -> Response {
    let state = sandbox.lock();
    let mut body = String::from("[");
    for (i, activity) in state.store.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&activity.fields.to_json());
    }
    body.push(']');
    json_response(StatusCode::OK, body)
}

async fn get_activity(
    State(sandbox): State<Sandbox>,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let state = sandbox.lock();
    let activity = state
        .store
        .get(id)
        .ok_or_else(|| ApiError::not_found(format!("no activity {id}")))?;
    Ok(json_response(StatusCode::OK, activity.fields.to_json()))
}

/// Keys a partial activity gets if it lacks them: the shape of a SmashRun manual entry.
const MANUAL_KEYS: &[&str] = &[
    "activityType",
    "calories",
    "notes",
    "externalId",
    "source",
    "appVersion",
    "deviceType",
    "hasDetails",
    "hasDetailsGPS",
    "isRace",
    "isTreadmill",
    "isBadHR",
    "isBadElevation",
    "syncDateTimeUTC",
];

fn manual_default(key: &str) -> Value {
    match key {
        "activityType" => Value::from("running"),
        "source" => Value::from("manual"),
        "notes" | "externalId" | "appVersion" | "deviceType" => Value::from(""),
        "calories" | "syncDateTimeUTC" => Value::Null,
        _ => Value::from(0),
    }
}

/// `POST /admin/activities`: adds a run (a full SmashRun object or at least `startDateTimeLocal`, `distance` and
/// `duration`). A missing `activityId` becomes the next id; missing keys get manual-entry values;
/// `dateCreatedUTC` and `dateUpdatedUTC` become now.
async fn add_activity(
    State(sandbox): State<Sandbox>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let map = json_object(body)?;
    for key in ["startDateTimeLocal", "distance", "duration"] {
        if !map.contains_key(key) {
            return Err(ApiError::bad_request(format!("`{key}` is required")));
        }
    }
    let mut fields = Fields::from_map(map);
    for key in MANUAL_KEYS {
        if !fields.contains(key) {
            fields.set(key, manual_default(key));
        }
    }
    let now = timefmt::format_utc_millis(timefmt::to_sql_datetime(timefmt::to_utc_wall(
        sandbox.now(),
    )));
    fields.set("dateCreatedUTC", Value::from(now.clone()));
    fields.set("dateUpdatedUTC", Value::from(now));

    let mut state = sandbox.lock();
    match fields.get("activityId") {
        None | Some(Value::Null) => {
            let next = state.store.max_id().map_or(1, |id| id + 1);
            fields.set("activityId", Value::from(next));
        }
        Some(_) => {}
    }
    let activity = Activity::from_fields(fields).map_err(ApiError::bad_request)?;
    if state.store.contains(activity.id) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("activity {} already exists; PATCH it instead", activity.id),
        ));
    }
    let body = activity.fields.to_json();
    tracing::info!(activity_id = activity.id, "admin: activity added");
    state.store.insert(activity);
    Ok(json_response(StatusCode::CREATED, body))
}

/// `PATCH /admin/activities/{id}`: merges the given keys and moves `dateUpdatedUTC` to now.
async fn patch_activity(
    State(sandbox): State<Sandbox>,
    PathParam(id): PathParam<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let map = json_object(body)?;
    if let Some(given) = map.get("activityId")
        && given.as_i64() != Some(id)
    {
        return Err(ApiError::bad_request("`activityId` cannot be changed"));
    }
    let now = timefmt::to_sql_datetime(timefmt::to_utc_wall(sandbox.now()));
    let mut state = sandbox.lock();
    let current = state
        .store
        .get(id)
        .ok_or_else(|| ApiError::not_found(format!("no activity {id}")))?;
    let mut fields = current.fields.clone();
    let created = current.created;
    for (key, value) in map {
        fields.set(&key, value);
    }
    fields.set(
        "dateUpdatedUTC",
        Value::from(timefmt::format_utc_millis(now.max(created))),
    );
    let activity = Activity::from_fields(fields).map_err(ApiError::bad_request)?;
    let body = activity.fields.to_json();
    tracing::info!(activity_id = id, "admin: activity updated");
    state.store.replace(activity);
    Ok(json_response(StatusCode::OK, body))
}

async fn delete_activity(
    State(sandbox): State<Sandbox>,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    sandbox
        .lock()
        .store
        .remove(id)
        .ok_or_else(|| ApiError::not_found(format!("no activity {id}")))?;
    tracing::info!(activity_id = id, "admin: activity deleted");
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn counters(State(sandbox): State<Sandbox>) -> Response {
    let doc = sandbox.lock().counters.to_json();
    json_value(StatusCode::OK, &doc)
}

async fn reset_counters(State(sandbox): State<Sandbox>) -> Response {
    sandbox.lock().counters.reset();
    json_value(StatusCode::OK, &json!({ "total": 0, "routes": {} }))
}

/// `POST /admin/tokens/expire[?refresh=true]`: every access token issued so far is expired (and every refresh token
/// too, with `refresh=true`, so that refreshing answers `invalid_grant`).
async fn expire_tokens(
    State(sandbox): State<Sandbox>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let query = query_map(query)?;
    let refresh = match query.get("refresh").map(String::as_str) {
        None | Some("false" | "0") => false,
        Some("true" | "1" | "") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "`refresh` must be true or false, got {other:?}"
            )));
        }
    };
    let now = sandbox.now();
    let mut state = sandbox.lock();
    let access = state.auth.expire_access(now);
    let refresh_tokens = if refresh {
        state.auth.expire_refresh()
    } else {
        0
    };
    Ok(json_value(
        StatusCode::OK,
        &json!({ "expiredAccessTokens": access, "expiredRefreshTokens": refresh_tokens }),
    ))
}

async fn revoke_tokens(State(sandbox): State<Sandbox>) -> Response {
    let (access, refresh) = sandbox.lock().auth.revoke_all();
    json_value(
        StatusCode::OK,
        &json!({ "revokedAccessTokens": access, "revokedRefreshTokens": refresh }),
    )
}

fn faults_doc(sandbox: &Sandbox) -> Value {
    serde_json::to_value(&sandbox.lock().faults.faults).unwrap_or(Value::Null)
}

async fn get_faults(State(sandbox): State<Sandbox>) -> Response {
    json_value(StatusCode::OK, &faults_doc(&sandbox))
}

/// `POST /admin/faults`: each key given replaces that fault; `null` clears it.
async fn set_faults(
    State(sandbox): State<Sandbox>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = json_body(body)?;
    sandbox
        .lock()
        .faults
        .merge(&body)
        .map_err(ApiError::bad_request)?;
    let doc = faults_doc(&sandbox);
    tracing::info!(faults = %doc, "admin: faults set");
    Ok(json_value(StatusCode::OK, &doc))
}

async fn clear_faults(State(sandbox): State<Sandbox>) -> Response {
    sandbox.lock().faults.clear();
    json_value(StatusCode::OK, &faults_doc(&sandbox))
}

fn clock_doc(sandbox: &Sandbox) -> Value {
    let now = timefmt::to_utc_wall(sandbox.now());
    json!({ "now": timefmt::format_utc_millis(now), "offsetSeconds": sandbox.clock_offset().whole_seconds(), "today": timefmt::format_date(sandbox.today()) })
}

async fn clock(State(sandbox): State<Sandbox>) -> Response {
    json_value(StatusCode::OK, &clock_doc(&sandbox))
}

/// `POST /admin/clock/advance {"seconds": N}`: moves the sandbox clock (token, code and refresh-token expiry, the
/// rate-limit window, `dateCreatedUTC` of new runs) forward by N seconds.
async fn advance_clock(
    State(sandbox): State<Sandbox>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let map = json_object(body)?;
    let seconds = map
        .get("seconds")
        .and_then(Value::as_i64)
        .filter(|s| (0..=100 * 365 * 86_400).contains(s))
        .ok_or_else(|| {
            ApiError::bad_request("`seconds` must be an integer from 0 to 3153600000")
        })?;
    sandbox.advance_clock(Duration::seconds(seconds));
    Ok(json_value(StatusCode::OK, &clock_doc(&sandbox)))
}
