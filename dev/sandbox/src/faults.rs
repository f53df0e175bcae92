//! Fault injection on `/v1` and on refresh grants, and request counters.

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;
use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};

/// The next `count` `/v1` requests answer `status`.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub(crate) struct FailNext {
    pub(crate) status: u16,
    pub(crate) count: u32,
}

/// 429 once more than `requests_per_hour` `/v1` requests were let through in the rolling last hour.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub(crate) struct RateLimit {
    pub(crate) requests_per_hour: u32,
    pub(crate) retry_after: bool,
}

/// The faults switched on, as `GET/POST /admin/faults` show them.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub(crate) struct Faults {
    pub(crate) fail_next: Option<FailNext>,
    pub(crate) rate_limit: Option<RateLimit>,
    /// Added before every `/v1` answer.
    pub(crate) delay_ms: u64,
    /// The next N `/v1` requests lose their connection instead of getting an answer.
    pub(crate) drop_next: u32,
    /// The next N refresh grants answer `invalid_grant`.
    pub(crate) invalid_grant_next: u32,
}

/// What to do with one `/v1` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gate {
    Pass,
    Drop,
    Fail(u16),
    /// 429, with the `Retry-After` seconds if that is switched on.
    Limited(Option<u64>),
}

const MAX_DELAY_MS: u64 = 120_000;

fn object<'a>(value: &'a Value, name: &str) -> Result<&'a Map<String, Value>, String> {
    value
        .as_object()
        .ok_or_else(|| format!("`{name}` must be an object or null"))
}

fn unsigned(value: Option<&Value>, name: &str) -> Result<Option<u64>, String> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| format!("`{name}` must be a non-negative integer")),
    }
}

fn only_keys(map: &Map<String, Value>, allowed: &[&str], name: &str) -> Result<(), String> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(format!(
            "unknown key `{k}` in {name}; allowed: {}",
            allowed.join(", ")
        )),
        None => Ok(()),
    }
}

impl Faults {
    /// Applies a `POST /admin/faults` body: each key given replaces that fault (`null` or a count of 0 clears it);
    /// keys not given are left as they are. Nothing changes if the body is invalid.
    pub(crate) fn merge(&mut self, body: &Value) -> Result<(), String> {
        let map = object(body, "the body")?;
        only_keys(
            map,
            &[
                "fail_next",
                "rate_limit",
                "delay_ms",
                "drop_next",
                "invalid_grant_next",
            ],
            "the body",
        )?;
        let mut next = self.clone();
        if let Some(value) = map.get("fail_next") {
            next.fail_next = if value.is_null() {
                None
            } else {
                let m = object(value, "fail_next")?;
                only_keys(m, &["status", "count"], "fail_next")?;
                let status = unsigned(m.get("status"), "fail_next.status")?
                    .ok_or("`fail_next.status` is required")?;
                if !(400..=599).contains(&status) {
                    return Err(
                        "`fail_next.status` must be an HTTP error status (400 to 599)".into(),
                    );
                }
                let count = unsigned(m.get("count"), "fail_next.count")?.unwrap_or(1);
                let count = u32::try_from(count).map_err(|_| "`fail_next.count` is too large")?;
                (count > 0).then_some(FailNext {
                    status: status as u16,
                    count,
                })
            };
        }
        if let Some(value) = map.get("rate_limit") {
            next.rate_limit = if value.is_null() {
                None
            } else {
                let m = object(value, "rate_limit")?;
                only_keys(m, &["requests_per_hour", "retry_after"], "rate_limit")?;
                let limit = unsigned(m.get("requests_per_hour"), "rate_limit.requests_per_hour")?
                    .ok_or("`rate_limit.requests_per_hour` is required")?;
                let requests_per_hour = u32::try_from(limit)
                    .map_err(|_| "`rate_limit.requests_per_hour` is too large")?;
                let retry_after = match m.get("retry_after") {
                    None | Some(Value::Null) => true,
                    Some(Value::Bool(b)) => *b,
                    Some(_) => return Err("`rate_limit.retry_after` must be true or false".into()),
                };
                Some(RateLimit {
                    requests_per_hour,
                    retry_after,
                })
            };
        }
        if let Some(value) = map.get("delay_ms") {
            let delay = unsigned(Some(value), "delay_ms")?.unwrap_or(0);
            if delay > MAX_DELAY_MS {
                return Err(format!("`delay_ms` must be at most {MAX_DELAY_MS}"));
            }
            next.delay_ms = delay;
        }
        for (key, slot) in [
            ("drop_next", &mut next.drop_next),
            ("invalid_grant_next", &mut next.invalid_grant_next),
        ] {
            if let Some(value) = map.get(key) {
                let n = unsigned(Some(value), key)?.unwrap_or(0);
                *slot = u32::try_from(n).map_err(|_| format!("`{key}` is too large"))?;
            }
        }
        *self = next;
        Ok(())
    }
}

/// Faults plus the rolling window the rate limit counts in.
#[derive(Debug, Default)]
pub(crate) struct FaultState {
    pub(crate) faults: Faults,
    window: VecDeque<OffsetDateTime>,
}

impl FaultState {
    /// Applies a body; setting or clearing the rate limit empties its window.
    pub(crate) fn merge(&mut self, body: &Value) -> Result<(), String> {
        self.faults.merge(body)?;
        if body.get("rate_limit").is_some() {
            self.window.clear();
        }
        Ok(())
    }

    pub(crate) fn clear(&mut self) {
        *self = Self::default();
    }

    /// Decides one `/v1` request. Requests refused by a fault do not count towards the rate limit.
    pub(crate) fn gate(&mut self, now: OffsetDateTime) -> Gate {
        if self.faults.drop_next > 0 {
            self.faults.drop_next -= 1;
            return Gate::Drop;
        }
        if let Some(fail) = self.faults.fail_next.as_mut() {
            let status = fail.status;
            fail.count -= 1;
            if fail.count == 0 {
                self.faults.fail_next = None;
            }
            return Gate::Fail(status);
        }
        let hour_ago = now - Duration::HOUR;
        while self.window.front().is_some_and(|t| *t <= hour_ago) {
            self.window.pop_front();
        }
        if let Some(limit) = self.faults.rate_limit
            && self.window.len() >= limit.requests_per_hour as usize
        {
            let retry = limit.retry_after.then(|| {
                let oldest = self.window.front().copied().unwrap_or(now);
                let wait = (oldest + Duration::HOUR - now).as_seconds_f64().ceil();
                wait.max(1.0) as u64
            });
            return Gate::Limited(retry);
        }
        self.window.push_back(now);
        Gate::Pass
    }

    /// Whether this refresh grant must fail (counts the fault down).
    pub(crate) fn take_invalid_grant(&mut self) -> bool {
        if self.faults.invalid_grant_next > 0 {
            self.faults.invalid_grant_next -= 1;
            true
        } else {
            false
        }
    }
}

/// Requests per `METHOD /route/template`.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    total: u64,
    routes: BTreeMap<String, u64>,
}

impl Counters {
    pub(crate) fn record(&mut self, key: String) {
        self.total += 1;
        *self.routes.entry(key).or_insert(0) += 1;
    }

    pub(crate) fn reset(&mut self) {
        *self = Self::default();
    }

    pub(crate) fn to_json(&self) -> Value {
        serde_json::json!({ "total": self.total, "routes": self.routes })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2025-01-01 12:00 UTC);

    #[test]
    fn fail_next_counts_down_then_passes() {
        let mut f = FaultState::default();
        f.merge(&json!({"fail_next": {"status": 503, "count": 2}}))
            .unwrap();
        assert_eq!(f.gate(NOW), Gate::Fail(503));
        assert_eq!(f.gate(NOW), Gate::Fail(503));
        assert_eq!(f.gate(NOW), Gate::Pass);
    }

    #[test]
    fn rate_limit_rolls() {
        let mut f = FaultState::default();
        f.merge(&json!({"rate_limit": {"requests_per_hour": 2, "retry_after": true}}))
            .unwrap();
        assert_eq!(f.gate(NOW), Gate::Pass);
        assert_eq!(f.gate(NOW + Duration::minutes(10)), Gate::Pass);
        assert_eq!(
            f.gate(NOW + Duration::minutes(20)),
            Gate::Limited(Some(40 * 60))
        );
        assert_eq!(f.gate(NOW + Duration::minutes(61)), Gate::Pass);
        f.merge(&json!({"rate_limit": {"requests_per_hour": 0, "retry_after": false}}))
            .unwrap();
        assert_eq!(f.gate(NOW), Gate::Limited(None));
    }

    #[test]
    fn bad_bodies_change_nothing() {
        let mut f = FaultState::default();
        f.merge(&json!({"delay_ms": 5})).unwrap();
        for bad in [
            json!([]),
            json!({"fail_next": {"status": 200}}),
            json!({"fail_next": {}}),
            json!({"delay_ms": -1}),
            json!({"nope": 1}),
            json!({"rate_limit": {"requests_per_hour": "x"}}),
            json!({"delay_ms": 7, "rate_limit": 3}),
        ] {
            assert!(f.merge(&bad).is_err(), "{bad}");
        }
        assert_eq!(
            f.faults,
            Faults {
                delay_ms: 5,
                ..Faults::default()
            }
        );
    }
}
