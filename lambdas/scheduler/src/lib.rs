//! The scheduler Lambda: fired nightly by EventBridge, it sends one message per hundred users
//! with an active SmashRun source; workers fan them out and create each user's job with the same
//! repository code as `POST /sync` (docs/adr/0007).

use std::sync::Arc;
use std::time::Instant;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use futures_util::StreamExt as _;
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use stk_adapters::Adapters;
use stk_core::UserId;
use stk_core::clock::{Clock, SystemClock};
use stk_core::job::{CHUNK_USERS, Outgoing, QueueMessage, ScheduledChunk};
use stk_core::ports::{JobQueue, UserDirectory};
use tracing::{Instrument, info, info_span, warn};

/// Users read per store request (under PostgREST's 1000-row cap on Supabase).
pub const PAGE_SIZE: u32 = 1000;
/// SendMessageBatch requests in flight at once (each carries ten chunks: a thousand users).
pub const CONCURRENCY: usize = 8;

/// What one run did; returned as the invocation's result and logged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Users with an active SmashRun source.
    pub users: u64,
    /// Store requests made to read them.
    pub user_pages: u64,
    /// Users whose nightly sync was queued, in chunks that workers split into one message a
    /// user (each worker then creates the job and skips users already syncing).
    pub queued: u64,
    /// Users whose chunk SQS refused; they are synced the next night.
    pub refused: u64,
    /// SendMessageBatch requests made.
    pub queue_requests: u64,
    pub elapsed_ms: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("the system clock is outside the years 1 to 9999")]
    Clock,
    #[error(
        "could not read the users to sync after {users} users; syncs already queued stay queued"
    )]
    Users {
        users: u64,
        #[source]
        source: stk_core::StoreError,
    },
}

#[derive(Debug, Clone)]
pub struct Scheduler {
    users: Arc<dyn UserDirectory>,
    queue: Arc<dyn JobQueue>,
    clock: Arc<dyn Clock>,
    page_size: u32,
    concurrency: usize,
}

impl Scheduler {
    pub fn new(
        users: Arc<dyn UserDirectory>,
        queue: Arc<dyn JobQueue>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            users,
            queue,
            clock,
            page_size: PAGE_SIZE,
            concurrency: CONCURRENCY,
        }
    }

    /// Wires the real adapters in (the composition root's last step).
    pub fn from_adapters(adapters: &Adapters) -> Self {
        Self::new(
            adapters.store.clone(),
            adapters.queue.clone(),
            Arc::new(SystemClock),
        )
    }

    /// Pages through every active user and queues their nightly sync, ten to a request.
    pub async fn run(&self) -> Result<Report, ScheduleError> {
        let started = Instant::now();
        let now = self.clock.now();
        let night = stk_core::job::iso_date(now.date()).ok_or(ScheduleError::Clock)?;
        let mut report = Report::default();
        let mut after: Option<UserId> = None;
        loop {
            let page = self
                .users
                .active_smashrun_users(after, self.page_size)
                .instrument(info_span!("read_users", page = report.user_pages))
                .await
                .map_err(|source| ScheduleError::Users {
                    users: report.users,
                    source,
                })?;
            report.user_pages += 1;
            let Some(last) = page.last().copied() else {
                break;
            };
            report.users += page.len() as u64;
            let messages: Vec<Outgoing> = page
                .chunks(CHUNK_USERS)
                .map(|users| {
                    Outgoing::now(QueueMessage::Chunk(ScheduledChunk {
                        users: users.to_vec(),
                        night,
                    }))
                })
                .collect();
            let results: Vec<(u64, u64)> = futures_util::stream::iter(messages.chunks(10))
                .map(|batch| async move {
                    match self.queue.enqueue_batch(batch).await {
                        Ok(refused) => {
                            let refused: Vec<Outgoing> =
                                refused.iter().filter_map(|&i| batch.get(i).cloned()).collect();
                            (users_in(batch) - users_in(&refused), users_in(&refused))
                        }
                        Err(e) => {
                            warn!(error = %stk_core::error::chain(&e), "a batch of nightly syncs was refused");
                            (0, users_in(batch))
                        }
                    }
                })
                .buffer_unordered(self.concurrency)
                .collect()
                .await;
            for (queued, refused) in results {
                report.queue_requests += 1;
                report.queued += queued;
                report.refused += refused;
            }
            if page.len() < self.page_size as usize {
                break;
            }
            after = Some(last);
        }
        report.elapsed_ms = started.elapsed().as_millis() as u64;
        info!(
            users = report.users,
            user_pages = report.user_pages,
            queued = report.queued,
            refused = report.refused,
            queue_requests = report.queue_requests,
            elapsed_ms = report.elapsed_ms,
            "nightly syncs queued"
        );
        Ok(report)
    }
}

fn users_in(messages: &[Outgoing]) -> u64 {
    messages
        .iter()
        .map(|m| match &m.message {
            QueueMessage::Chunk(chunk) => chunk.users.len() as u64,
            QueueMessage::Job(_) | QueueMessage::Scheduled(_) => 1,
        })
        .sum()
}

/// The Lambda handler: any EventBridge event (the schedule's) starts a run.
pub async fn handle(
    scheduler: &Scheduler,
    event: LambdaEvent<EventBridgeEvent<serde_json::Value>>,
) -> Result<Report, ScheduleError> {
    let span = info_span!(
        "nightly_schedule",
        event_id = event.payload.id.as_deref().unwrap_or_default(),
        detail_type = %event.payload.detail_type
    );
    let result = scheduler.run().instrument(span).await;
    if let Err(e) = &result {
        tracing::error!(error = %stk_core::error::chain(e), "the nightly schedule failed");
    }
    result
}

impl From<ScheduleError> for lambda_runtime::Diagnostic {
    fn from(e: ScheduleError) -> Self {
        Self {
            error_type: "ScheduleError".into(),
            error_message: stk_core::error::chain(&e),
        }
    }
}
