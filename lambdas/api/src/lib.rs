//! The HTTP API: an axum `Router`, served by `lambda_http` in Lambda and by `axum::serve` on
//! the local stack and in tests.

pub mod auth;
pub mod body;
mod error;
mod me;
mod params;
mod sync;
mod views;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use stk_adapters::Adapters;
use stk_core::clock::SystemClock;
use stk_core::ports::{ApiKeyStore, RunnerViews};
use stk_core::service::JobService;
use tower_http::catch_panic::CatchPanicLayer;
use tracing::{Instrument, info, info_span};

pub use error::ApiError;

/// Largest request body accepted: a sync request is a few dozen bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone)]
pub struct AppState {
    pub jobs: JobService,
    pub keys: Arc<dyn ApiKeyStore>,
    pub views: Arc<dyn RunnerViews>,
}

impl auth::KeyLookup for AppState {
    fn keys(&self) -> &Arc<dyn ApiKeyStore> {
        &self.keys
    }
}

impl AppState {
    /// Wires the real adapters into the application (the composition root's last step).
    pub fn from_adapters(adapters: &Adapters) -> Self {
        Self {
            jobs: JobService::new(
                adapters.jobs.clone(),
                adapters.queue.clone(),
                Arc::new(SystemClock),
            ),
            keys: adapters.store.clone(),
            views: adapters.store.clone(),
        }
    }
}

pub fn router(state: AppState) -> Router {
    serve(routes(state))
}

/// The API function's routes, without the shared layers ([`serve`] adds them).
pub fn routes(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/me", get(me::me))
        .route("/sync", get(sync::list).post(sync::create))
        .route("/sync/{id}", get(sync::get))
        .route("/streak", get(views::streak))
        .route("/stats", get(views::stats))
        .route("/stats/monthly", get(views::monthly))
        .route("/records", get(views::records))
        .route("/runs", get(views::runs))
        .route("/runs/recent", get(views::recent))
        .route(
            "/settings",
            get(views::get_settings).patch(views::patch_settings),
        )
        .with_state(state)
}

/// What every function's router shares: JSON 404 and 405 answers, the body limit, panics
/// turned into a bare 500, and a request id with one log line per request.
pub fn serve(routes: Router) -> Router {
    routes
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::Internal.into_response()
        }))
        .layer(middleware::from_fn(request_context))
}

async fn health() -> &'static str {
    "ok"
}

async fn not_found() -> ApiError {
    ApiError::NoRoute
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// Gives every request an id (in the logs, in the `x-request-id` header and in 5xx bodies)
/// and logs one line per request.
async fn request_context(request: Request, next: Next) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let route = request.extensions().get::<MatchedPath>().map_or_else(
        || request.uri().path().to_owned(),
        |p| p.as_str().to_owned(),
    );
    let method = request.method().clone();
    let span = info_span!("http_request", %method, route, request_id);
    let started = Instant::now();
    let mut response = error::REQUEST_ID
        .scope(request_id.clone(), next.run(request))
        .instrument(span.clone())
        .await;
    span.in_scope(|| {
        info!(
            status = response.status().as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "request handled"
        );
    });
    if let Ok(value) = request_id.parse() {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}
