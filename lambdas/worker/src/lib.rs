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
use stk_core::sync::{
    Delivery, EnginePorts, EngineSettings, Fault, Outcome, RetryLater, SyncEngine,
};
use tracing::{Instrument, error, info, info_span, warn};

/// What handles one queue message; [`Worker`] in production.
pub trait JobHandler: Send + Sync {
    fn handle(
        &self,
        message: QueueMessage,
        delivery: &Delivery,
    ) -> impl Future<Output = Result<Outcome, RetryLater>> + Send;

    /// A message that reached the dead-letter queue: its job is failed with a reason.
    fn dead_lettered(
        &self,
        message: QueueMessage,
    ) -> impl Future<Output = Result<Outcome, RetryLater>> + Send;

    /// Whether a record comes from the dead-letter queue (by its event source ARN).
    fn is_dead_letter_queue(&self, arn: &str) -> bool;

    /// Hides a message for `hidden`; where SQS is reached.
    fn queue(&self) -> &dyn JobQueue;
}

/// The worker: runs syncs with the engine and fans nightly chunks out into one message a user.
#[derive(Debug)]
pub struct Worker {
    engine: SyncEngine,
    queue: Arc<dyn JobQueue>,
    /// Nightly syncs start spread over this window, so SmashRun and the store see a flat load.
    nightly_spread: Duration,
    dead_letter_queue: String,
}

impl Worker {
    pub fn new(
        engine: SyncEngine,
        queue: Arc<dyn JobQueue>,
        nightly_spread: Duration,
        dead_letter_queue: String,
    ) -> Self {
        Self {
            engine,
            queue,
            nightly_spread,
            dead_letter_queue,
        }
    }

    /// Wires the real adapters in (the composition root's last step).
    pub fn from_adapters(adapters: &Adapters, settings: EngineSettings) -> Self {
        let worker_id =
            std::env::var("AWS_LAMBDA_LOG_STREAM_NAME").unwrap_or_else(|_| "local".to_owned());
        let engine = SyncEngine::new(
            EnginePorts {
                jobs: adapters.jobs.clone(),
                smashrun: adapters.smashrun.clone(),
                runs: adapters.store.clone(),
                sources: adapters.store.clone(),
                queue: adapters.queue.clone(),
                clock: Arc::new(SystemClock),
            },
            EngineSettings {
                hourly_budget: adapters.settings.smashrun_hourly_budget,
                ..settings
            },
            worker_id,
        );
        Self::new(
            engine,
            adapters.queue.clone(),
            adapters.settings.nightly_spread,
            adapters.settings.dead_letter_queue.clone(),
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
                .map_err(|e| RetryLater::fault(Fault::Queue(e)))?;
            if !refused.is_empty() {
                return Err(RetryLater::fault(Fault::Queue(QueueError::Unavailable(
                    format!("{} of {} nightly syncs refused", refused.len(), batch.len()).into(),
                ))));
            }
        }
        info!(users = chunk.users.len(), night = %chunk.night, "nightly syncs dispatched");
        Ok(Outcome::Dispatched)
    }
}

impl JobHandler for Worker {
    async fn handle(
        &self,
        message: QueueMessage,
        delivery: &Delivery,
    ) -> Result<Outcome, RetryLater> {
        match message {
            QueueMessage::Job(job) => self.engine.handle(job, delivery).await,
            QueueMessage::Scheduled(scheduled) => {
                self.engine.handle_scheduled(scheduled, delivery).await
            }
            QueueMessage::Chunk(chunk) => self.fan_out(chunk).await,
        }
    }

    async fn dead_lettered(&self, message: QueueMessage) -> Result<Outcome, RetryLater> {
        match message {
            QueueMessage::Job(job) => self.engine.fail_dead_lettered(job).await,
            // No job was made for these yet: tomorrow night's run covers the user again.
            QueueMessage::Scheduled(_) | QueueMessage::Chunk(_) => Ok(Outcome::Skipped),
        }
    }

    fn is_dead_letter_queue(&self, arn: &str) -> bool {
        arn.rsplit(':').next() == Some(self.dead_letter_queue.as_str())
    }

    fn queue(&self) -> &dyn JobQueue {
        self.queue.as_ref()
    }
}

/// Handles a batch one message at a time (syncs of one user must not race SmashRun's rate
/// limit) and returns the ids of the messages SQS should deliver again. A message to come back
/// later is first hidden for as long as its job waits, so it neither returns early nor waits
/// out the queue's whole visibility timeout.
pub async fn handle_batch<H: JobHandler>(
    handler: &H,
    event: LambdaEvent<SqsEvent>,
) -> SqsBatchResponse {
    let deadline = deadline(&event.context);
    let mut response = SqsBatchResponse::default();
    for record in event.payload.records {
        let message_id = record.message_id.clone().unwrap_or_default();
        let span = info_span!("sqs_record", message_id);
        if !handle_record(handler, &record, deadline)
            .instrument(span)
            .await
        {
            response.add_failure(message_id);
        }
    }
    response
}

/// The invocation's deadline (Lambda gives it in epoch milliseconds; 0 when unknown).
fn deadline(context: &lambda_runtime::Context) -> Option<time::OffsetDateTime> {
    (context.deadline > 0)
        .then(|| {
            time::OffsetDateTime::from_unix_timestamp_nanos(
                i128::from(context.deadline) * 1_000_000,
            )
            .ok()
        })
        .flatten()
}

/// True when the message is done with (success, final failure, or duplicate).
async fn handle_record<H: JobHandler>(
    handler: &H,
    record: &SqsMessage,
    deadline: Option<time::OffsetDateTime>,
) -> bool {
    let receives = record
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|c| c.parse().ok())
        .unwrap_or(1);
    let message: QueueMessage = match record.body.as_deref().map(serde_json::from_str) {
        Some(Ok(message)) => message,
        _ => {
            // Nothing can fix it: let it reach the dead-letter queue, where it is kept and alarmed on.
            error!(
                receives,
                "message body is not a job message: left for the dead-letter queue"
            );
            return false;
        }
    };
    if record
        .event_source_arn
        .as_deref()
        .is_some_and(|arn| handler.is_dead_letter_queue(arn))
    {
        error!(
            ?message,
            receives, "message reached the dead-letter queue: its job is failed"
        );
        return handler.dead_lettered(message).await.is_ok();
    }
    let delivery = Delivery {
        receives,
        receipt: record.receipt_handle.clone(),
        deadline,
    };
    match handler.handle(message, &delivery).await {
        Ok(outcome) => {
            info!(?outcome, "message handled");
            true
        }
        Err(later) => {
            let hidden = later.hidden_for(time::OffsetDateTime::now_utc(), receives);
            if let Some(receipt) = &delivery.receipt
                && let Err(e) = handler.queue().set_visibility(receipt, hidden).await
            {
                warn!(error = %stk_core::error::chain(&e), "could not hide the message: it comes back after the queue's visibility timeout");
            }
            info!(reason = %later, receives, hidden_secs = hidden.as_secs(), "message will be delivered again");
            false
        }
    }
}
