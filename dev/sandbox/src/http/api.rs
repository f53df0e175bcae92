//! `/v1` routes (behind the token check and the faults).

use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use time::{Month, OffsetDateTime, PrimitiveDateTime, UtcOffset};

use super::{ApiError, PathParam, invalid_token, json_response, json_value, query_map};
use crate::activity::{Activity, Fields};
use crate::server::Sandbox;
use crate::stats::{self, Period};
use crate::timefmt;

/// Largest page SmashRun serves.
pub(crate) const MAX_COUNT: u64 = 100;

/// Paging and the change filter of the `search` routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Search {
    /// `(page, count)`; `None` means everything at once.
    page: Option<(u64, u64)>,
    from: Option<PrimitiveDateTime>,
}

fn integer(map: &HashMap<String, String>, name: &str) -> Result<Option<i64>, ApiError> {
    // SmashRun is an ASP.NET service: parameter names are not case-sensitive.
    match map.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)) {
        None => Ok(None),
        Some((_, v)) => {
            v.trim().parse::<i64>().map(Some).map_err(|_| {
                ApiError::bad_request(format!("`{name}` must be an integer, got {v:?}"))
            })
        }
    }
}

impl Search {
    fn parse(map: &HashMap<String, String>) -> Result<Self, ApiError> {
        let count = match integer(map, "count")? {
            Some(c) if c <= 0 => {
                return Err(ApiError::bad_request(format!(
                    "`count` must be between 1 and {MAX_COUNT}, got {c}"
                )));
            }
            Some(c) => Some((c as u64).min(MAX_COUNT)),
            None => None,
        };
        let page = match integer(map, "page")? {
            Some(p) if p < 0 => {
                return Err(ApiError::bad_request(format!(
                    "`page` must be 0 or more, got {p}"
                )));
            }
            Some(p) => Some(p as u64),
            None => None,
        };
        let from = match map
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("fromDateUTC"))
        {
            None => None,
            Some((_, v)) => {
                let seconds = v
                    .trim()
                    .parse::<i64>()
                    .ok()
                    .or_else(|| {
                        v.trim()
                            .parse::<f64>()
                            .ok()
                            .filter(|f| f.is_finite() && f.abs() < 1e12)
                            .map(|f| f.floor() as i64)
                    })
                    .ok_or_else(|| {
                        ApiError::bad_request(format!(
                            "`fromDateUTC` must be a Unix time in seconds, got {v:?}"
                        ))
                    })?;
                let at = OffsetDateTime::from_unix_timestamp(seconds).map_err(|_| {
                    ApiError::bad_request(format!("`fromDateUTC` is out of range: {seconds}"))
                })?;
                Some(timefmt::to_utc_wall(at))
            }
        };
        let page = match (page, count) {
            (None, None) => None,
            (page, count) => Some((page.unwrap_or(0), count.unwrap_or(MAX_COUNT))),
        };
        Ok(Self { page, from })
    }

    /// The matching activities, newest first.
    fn select<'a>(&self, activities: impl Iterator<Item = &'a Activity>) -> Vec<&'a Activity> {
        let from = self.from;
        let matching = activities
            .filter(move |a| from.is_none_or(|from| a.created >= from || a.updated >= from));
        match self.page {
            None => matching.collect(),
            Some((page, count)) => {
                let skip = usize::try_from(page.saturating_mul(count)).unwrap_or(usize::MAX);
                matching.skip(skip).take(count as usize).collect()
            }
        }
    }
}

fn json_array<T>(items: impl Iterator<Item = T>, write: impl Fn(&T) -> String) -> String {
    let mut out = String::from("[");
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&write(&item));
    }
    out.push(']');
    out
}

pub(super) async fn search(
    State(sandbox): State<Sandbox>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let search = Search::parse(&query_map(query)?)?;
    let state = sandbox.lock();
    let body = json_array(search.select(state.store.iter()).into_iter(), |a| {
        a.fields.to_json()
    });
    Ok(json_response(StatusCode::OK, body))
}

pub(super) async fn briefs(
    State(sandbox): State<Sandbox>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let search = Search::parse(&query_map(query)?)?;
    let state = sandbox.lock();
    let body = json_array(search.select(state.store.iter()).into_iter(), |a| {
        let mut brief = Fields::with_capacity(4);
        for key in ["activityId", "startDateTimeLocal", "distance", "duration"] {
            brief.push(key, a.fields.get(key).cloned().unwrap_or(Value::Null));
        }
        brief.to_json()
    });
    Ok(json_response(StatusCode::OK, body))
}

pub(super) async fn ids(
    State(sandbox): State<Sandbox>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let search = Search::parse(&query_map(query)?)?;
    let state = sandbox.lock();
    let body = json_array(search.select(state.store.iter()).into_iter(), |a| {
        a.id.to_string()
    });
    Ok(json_response(StatusCode::OK, body))
}

pub(crate) fn parse_id(text: &str) -> Result<i64, ApiError> {
    text.trim()
        .parse::<i64>()
        .map_err(|_| ApiError::bad_request(format!("an activity id is an integer, got {text:?}")))
}

pub(super) async fn activity(
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

pub(super) async fn userinfo(State(sandbox): State<Sandbox>) -> Response {
    let settings = sandbox.settings();
    let state = sandbox.lock();
    let newest = state.store.iter().next();
    let last_run = state
        .store
        .iter()
        .filter(|a| a.is_run)
        .map(Activity::start_utc)
        .max();
    // The offset of the newest activity (US Eastern standard time when there is none).
    let offset_minutes = newest
        .and_then(Activity::offset)
        .map_or(-300, UtcOffset::whole_minutes);
    let mut info = Fields::with_capacity(8);
    info.push("id", settings.user_id);
    info.push("firstName", settings.first_name.clone());
    info.push("lastName", settings.last_name.clone());
    info.push("userName", settings.user_name.clone());
    info.push(
        "registrationDateUTC",
        timefmt::format_utc_millis(settings.registration),
    );
    info.push(
        "dateTimeUTCOfLastRun",
        last_run.map_or(Value::Null, |t| timefmt::format_utc_seconds(t).into()),
    );
    info.push("unitDistance", "m");
    info.push("timeZoneOffsetMinutes", offset_minutes);
    json_response(StatusCode::OK, info.to_json())
}

pub(super) async fn stats(State(sandbox): State<Sandbox>) -> Response {
    let today = sandbox.today();
    let doc = stats::stats(&sandbox.lock().store, Period::AllTime, today);
    json_value(StatusCode::OK, &doc)
}

fn year(text: &str) -> Result<i32, ApiError> {
    text.parse::<i32>()
        .ok()
        .filter(|y| (1900..=2200).contains(y))
        .ok_or_else(|| {
            ApiError::bad_request(format!("a year is an integer like 2024, got {text:?}"))
        })
}

pub(super) async fn stats_year(
    State(sandbox): State<Sandbox>,
    PathParam(y): PathParam<String>,
) -> Result<Response, ApiError> {
    let period = Period::Year(year(&y)?);
    let today = sandbox.today();
    let doc = stats::stats(&sandbox.lock().store, period, today);
    Ok(json_value(StatusCode::OK, &doc))
}

pub(super) async fn stats_month(
    State(sandbox): State<Sandbox>,
    PathParam((y, m)): PathParam<(String, String)>,
) -> Result<Response, ApiError> {
    let month = m
        .parse::<u8>()
        .ok()
        .and_then(|m| Month::try_from(m).ok())
        .ok_or_else(|| {
            ApiError::bad_request(format!("a month is an integer from 1 to 12, got {m:?}"))
        })?;
    let period = Period::Month(year(&y)?, month);
    let today = sandbox.today();
    let doc = stats::stats(&sandbox.lock().store, period, today);
    Ok(json_value(StatusCode::OK, &doc))
}

/// `GET /v1/auth/{access_token}`: seconds left on a token.
pub(super) async fn token_status(
    State(sandbox): State<Sandbox>,
    PathParam(token): PathParam<String>,
) -> Response {
    let now = sandbox.now();
    match sandbox.lock().auth.check_access(&token, now) {
        Some(left) => json_value(StatusCode::OK, &serde_json::json!({ "expires_in": left })),
        None => invalid_token("The access token is invalid, expired or revoked").into_response(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<Search, ApiError> {
        Search::parse(
            &pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn paging_rules() {
        assert_eq!(parse(&[]).unwrap().page, None);
        assert_eq!(parse(&[("count", "500")]).unwrap().page, Some((0, 100)));
        assert_eq!(parse(&[("page", "3")]).unwrap().page, Some((3, 100)));
        assert_eq!(
            parse(&[("Page", "2"), ("COUNT", "7")]).unwrap().page,
            Some((2, 7))
        );
        for bad in [
            [("count", "0")],
            [("count", "-1")],
            [("count", "ten")],
            [("page", "-1")],
            [("fromDateUTC", "yesterday")],
        ] {
            assert_eq!(parse(&bad).unwrap_err().status, StatusCode::BAD_REQUEST);
        }
        assert_eq!(
            parse(&[("fromDateUTC", "0")]).unwrap().from,
            Some(time::macros::datetime!(1970-01-01 0:00))
        );
    }
}
