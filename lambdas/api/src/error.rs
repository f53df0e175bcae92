//! The API's one error type and its one mapping to statuses and JSON bodies.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use stk_protocol::{ErrorBody, ErrorDetail};

tokio::task_local! {
    pub static REQUEST_ID: String;
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    InvalidBody(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("request body is larger than {} bytes", crate::MAX_BODY_BYTES)]
    BodyTooLarge,
    #[error("send the body as JSON with `Content-Type: application/json`")]
    UnsupportedMediaType,
    #[error("{0}")]
    NotFound(String),
    /// Something that existed is over for good (a spent or expired login session).
    #[error("{1}")]
    Gone(&'static str, String),
    #[error("no such route: see the API reference in docs/api/openapi.yaml")]
    NoRoute,
    #[error("method not allowed on this route")]
    MethodNotAllowed,
    /// A dependency failed; the cause is logged here and never sent to the client.
    #[error("the service is temporarily unavailable: try again in a moment")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("internal error")]
    Internal,
}

impl ApiError {
    pub fn unavailable(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Unavailable(Box::new(e))
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::InvalidBody(_) => (StatusCode::BAD_REQUEST, "invalid_body"),
            Self::InvalidRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            Self::BodyTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
            Self::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            Self::NotFound(_) | Self::NoRoute => (StatusCode::NOT_FOUND, "not_found"),
            Self::Gone(code, _) => (StatusCode::GONE, code),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "service_unavailable"),
            Self::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let request_id = REQUEST_ID.try_with(Clone::clone).ok();
        if status.is_server_error() {
            tracing::error!(code, error = %stk_core::error::chain(&self), "request failed");
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.to_owned(),
                message: self.to_string(),
                request_id,
            },
        };
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                "www-authenticate",
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}
