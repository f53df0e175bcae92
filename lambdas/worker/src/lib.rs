//! The worker Lambda: SQS batches of job messages, each driven through the core sync engine,
//! with partial batch failures so only the messages that should come back do.

use std::future::Future;
use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::LambdaEvent;
use stk_adapters::Adapters;
use stk_core::clock::SystemClock;
use stk_core::job::JobMessage;
use stk_core::sync::{EngineSettings, Outcome, RetryLater, SyncEngine};
use tracing::{Instrument, error, info, info_span, warn};

/// What handles one job message; the sync engine in production.
pub trait JobHandler: Send + Sync {
    fn handle(
        &self,
        message: JobMessage,
        delivery: u32,
    ) -> impl Future<Output = Result<Outcome, RetryLater>> + Send;
}

impl JobHandler for SyncEngine {
    fn handle(
        &self,
        message: JobMessage,
        delivery: u32,
    ) -> impl Future<Output = Result<Outcome, RetryLater>> + Send {
        SyncEngine::handle(self, message, delivery)
    }
}

/// Wires the real adapters into the engine (the composition root's last step).
pub fn engine_from_adapters(adapters: &Adapters, settings: EngineSettings) -> SyncEngine {
    let worker_id =
        std::env::var("AWS_LAMBDA_LOG_STREAM_NAME").unwrap_or_else(|_| "local".to_owned());
    SyncEngine::new(
        adapters.jobs.clone(),
        adapters.smashrun.clone(),
        adapters.store.clone(),
        adapters.store.clone(),
        Arc::new(SystemClock),
        settings,
        worker_id,
    )
}

/// Handles a batch one message at a time (syncs of one user must not race SmashRun's rate
/// limit) and returns the ids of the messages SQS should deliver again.
pub async fn handle_batch<H: JobHandler>(
    handler: &H,
    event: LambdaEvent<SqsEvent>,
) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for record in event.payload.records {
        let message_id = record.message_id.clone().unwrap_or_default();
        let span = info_span!("sqs_record", message_id);
        if !handle_record(handler, &record).instrument(span).await {
            response.add_failure(message_id);
        }
    }
    response
}

/// True when the message is done with (success, final failure, or duplicate).
async fn handle_record<H: JobHandler>(handler: &H, record: &SqsMessage) -> bool {
    let delivery = record
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|c| c.parse().ok())
        .unwrap_or(1);
    let message: JobMessage = match record.body.as_deref().map(serde_json::from_str) {
        Some(Ok(message)) => message,
        _ => {
            // Nothing can fix it: let it reach the dead-letter queue, where it is kept and alarmed on.
            error!(
                delivery,
                "message body is not a job message: left for the dead-letter queue"
            );
            return false;
        }
    };
    match handler.handle(message, delivery).await {
        Ok(outcome) => {
            info!(?outcome, "message handled");
            true
        }
        Err(e) => {
            warn!(error = %stk_core::error::chain(&e), delivery, "message will be delivered again");
            false
        }
    }
}

/// JSON logs for CloudWatch, filtered by `RUST_LOG` (default `info`).
pub fn init_lambda_tracing() {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_current_span(true)
        .with_span_list(true)
        .without_time()
        .init();
}
