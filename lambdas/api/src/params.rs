//! Query parameters, parsed strictly: unknown names, bad numbers and impossible dates are 400s.

use std::collections::HashMap;
use std::ops::RangeInclusive;

use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use stk_protocol::IsoDate;

use crate::ApiError;

#[derive(Debug)]
pub struct Params(HashMap<String, String>);

impl Params {
    pub fn parse(
        query: Result<Query<HashMap<String, String>>, QueryRejection>,
        allowed: &[&str],
    ) -> Result<Self, ApiError> {
        let Query(map) = query
            .map_err(|_| ApiError::InvalidRequest("the query string could not be read".into()))?;
        if let Some(unknown) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
            let shown: String = unknown.chars().take(32).collect();
            return Err(ApiError::InvalidRequest(if allowed.is_empty() {
                format!("unknown query parameter `{shown}`: this route takes none")
            } else {
                format!(
                    "unknown query parameter `{shown}`: expected {}",
                    allowed.join(", ")
                )
            }));
        }
        Ok(Self(map))
    }

    pub fn int(
        &self,
        name: &str,
        range: RangeInclusive<u64>,
        default: u64,
    ) -> Result<u64, ApiError> {
        match self.0.get(name) {
            None => Ok(default),
            Some(raw) => raw
                .parse::<u64>()
                .ok()
                .filter(|v| range.contains(v))
                .ok_or_else(|| {
                    ApiError::InvalidRequest(format!(
                        "`{name}` must be a whole number from {} to {}",
                        range.start(),
                        range.end()
                    ))
                }),
        }
    }

    pub fn date(&self, name: &str) -> Result<Option<IsoDate>, ApiError> {
        self.0
            .get(name)
            .map(|raw| raw.parse::<IsoDate>())
            .transpose()
            .map_err(|e| ApiError::InvalidRequest(format!("`{name}`: {e}")))
    }
}
