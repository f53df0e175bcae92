//! The worker Lambda: SQS batches of job messages, each driven through the core sync engine,
//! with partial batch failures so only the messages that should come back do.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::LambdaEvent;
use stk_adapters::Adapters;
use stk_core::QueueError;
use stk_core::clock::SystemClock;
use stk_core::job::{Outgoing, QueueMessage, ScheduledChunk, ScheduledSync, nightly_delay};
use stk_core::ports::JobQueue;
use stk_core::sync::{EngineSettings, Outcome, RetryLater, SyncEngine};
use tracing::{Instrument, error, info, info_span, warn};

/// What handles one queue message; [`Worker`] in production.
pub trait JobHandler: Send + Sync {
    fn handle(
        &self,
        message: QueueMessage,
        delivery: u32,
    ) -> impl Future<Output = Result<Outcome, RetryLater>> + Send;
}

/// The worker: runs syncs with the engine and fans nightly chunks out into one message a user.
#[derive(Debug)]
pub struct Worker {
    engine: SyncEngine,
    queue: Arc<dyn JobQueue>,
    /// Nightly syncs start spread over this window, so SmashRun and the store see a flat load.
    nightly_spread: Duration,
}

impl Worker {
    pub fn new(engine: SyncEngine, queue: Arc<dyn JobQueue>, nightly_spread: Duration) -> Self {
        Self {
            engine,
            queue,
            nightly_spread,
        }
    }

    /// Wires the real adapters in (the composition root's last step).
    pub fn from_adapters(adapters: &Adapters, settings: EngineSettings) -> Self {
        let worker_id =
            std::env::var("AWS_LAMBDA_LOG_STREAM_NAME").unwrap_or_else(|_| "local".to_owned());
        let engine = SyncEngine::new(
            adapters.jobs.clone(),
            adapters.smashrun.clone(),
            adapters.store.clone(),
            adapters.store.clone(),
            Arc::new(SystemClock),
            settings,
            worker_id,
        );
        Self::new(
            engine,
            adapters.queue.clone(),
            adapters.settings.nightly_spread,
        )
    }

    pub fn engine(&self) -> &SyncEngine {
        &self.engine
    }

    /// Sends one nightly-sync message per user of the chunk. Sending twice is harmless: each
    /// user's job for the night is created once, by idempotency key.
    async fn fan_out(&self, chunk: ScheduledChunk) -> Result<Outcome, RetryLater> {
        let messages: Vec<Outgoing> = chunk
            .users
            .iter()
            .map(|&user_id| Outgoing {
                message: QueueMessage::Scheduled(ScheduledSync {
                    user_id,
                    night: chunk.night,
                }),
                delay: nightly_delay(user_id, self.nightly_spread),
            })
            .collect();
        for batch in messages.chunks(10) {
            let refused = self
                .queue
                .enqueue_batch(batch)
                .await
                .map_err(RetryLater::Queue)?;
            if !refused.is_empty() {
                return Err(RetryLater::Queue(QueueError::Unavailable(
                    format!("{} of {} nightly syncs refused", refused.len(), batch.len()).into(),
                )));
            }
        }
        info!(users = chunk.users.len(), night = %chunk.night, "nightly syncs dispatched");
        Ok(Outcome::Dispatched)
    }
}

impl JobHandler for Worker {
    async fn handle(&self, message: QueueMessage, delivery: u32) -> Result<Outcome, RetryLater> {
        match message {
            QueueMessage::Job(job) => self.engine.handle(job, delivery).await,
            QueueMessage::Scheduled(scheduled) => {
                self.engine.handle_scheduled(scheduled, delivery).await
            }
            QueueMessage::Chunk(chunk) => self.fan_out(chunk).await,
        }
    }
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
    let message: QueueMessage = match record.body.as_deref().map(serde_json::from_str) {
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
