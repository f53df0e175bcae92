//! JSON request bodies: size-limited, `Content-Type` checked, parsed strictly.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;

use crate::ApiError;

/// Parses a JSON body; an empty body is `T::default()`.
pub fn json_or_default<T: DeserializeOwned + Default>(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    what: &str,
) -> Result<T, ApiError> {
    let body = read(body)?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    parse(headers, &body, what)
}

/// Parses a JSON body that must be there.
pub fn json<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    what: &str,
) -> Result<T, ApiError> {
    let body = read(body)?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::InvalidBody(format!(
            "the {what} request needs a JSON body"
        )));
    }
    parse(headers, &body, what)
}

fn read(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::BodyTooLarge
        } else {
            ApiError::InvalidBody("the request body could not be read".into())
        }
    })
}

fn parse<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8], what: &str) -> Result<T, ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json" || mime.ends_with("+json")
        });
    if !is_json {
        return Err(ApiError::UnsupportedMediaType);
    }
    serde_json::from_slice(body).map_err(|e| {
        let mut message = e.to_string();
        // serde quotes the body's own text, which may be multi-byte: cut on a char boundary.
        if message.len() > 300 {
            let cut = (0..=300)
                .rev()
                .find(|&i| message.is_char_boundary(i))
                .unwrap_or(0);
            message.truncate(cut);
        }
        ApiError::InvalidBody(format!("invalid {what} request: {message}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        full: Option<bool>,
    }

    /// serde quotes an unknown field's name in its message; a long multi-byte one used to be
    /// cut off a character boundary, and the API panicked.
    #[test]
    fn a_long_multi_byte_field_name_gets_a_clean_400() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            "application/json".parse().expect("a header value"),
        );
        for prefix in ["", "a", "ab", "abc"] {
            let name = format!("{prefix}{}", "\u{1f3c3}".repeat(100));
            let body = format!("{{\"{name}\": true}}");
            let err = parse::<Body>(&headers, body.as_bytes(), "sync").unwrap_err();
            assert!(matches!(err, ApiError::InvalidBody(_)));
            assert!(err.to_string().len() <= 340, "{err}");
        }
    }
}
