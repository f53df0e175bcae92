//! The scheduler Lambda: fired nightly by EventBridge, it queues one incremental sync per user
//! with an active SmashRun source, through the same job service as `POST /sync`.

use std::sync::Arc;
use std::time::Instant;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use stk_adapters::Adapters;
use stk_core::UserId;
use stk_core::clock::SystemClock;
use stk_core::job::SyncSpec;
use stk_core::ports::UserDirectory;
use stk_core::service::{JobService, ScheduleCounts};
use tracing::{Instrument, info, info_span};

/// Users read per store request (under PostgREST's 1000-row cap on Supabase).
pub const PAGE_SIZE: u32 = 1000;
/// Job records created at once.
pub const CONCURRENCY: usize = 32;

/// What one run did; returned as the invocation's result and logged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub users: u64,
    pub user_pages: u64,
    #[serde(flatten)]
    pub jobs: ScheduleCounts,
    pub elapsed_ms: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error(
        "could not read the users to sync after {users} users; jobs already queued stay queued"
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
    jobs: JobService,
    page_size: u32,
    concurrency: usize,
}

impl Scheduler {
    pub fn new(users: Arc<dyn UserDirectory>, jobs: JobService) -> Self {
        Self {
            users,
            jobs,
            page_size: PAGE_SIZE,
            concurrency: CONCURRENCY,
        }
    }

    /// Wires the real adapters in (the composition root's last step).
    pub fn from_adapters(adapters: &Adapters) -> Self {
        Self::new(
            adapters.store.clone(),
            JobService::new(
                adapters.jobs.clone(),
                adapters.queue.clone(),
                Arc::new(SystemClock),
            ),
        )
    }

    /// Pages through every active user and queues their nightly sync, a page at a time.
    pub async fn run(&self) -> Result<Report, ScheduleError> {
        let started = Instant::now();
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
            let counts = self
                .jobs
                .submit_many(&page, SyncSpec::incremental(), self.concurrency)
                .instrument(info_span!("queue_syncs", users = page.len()))
                .await;
            report.jobs.queued += counts.queued;
            report.jobs.skipped_active += counts.skipped_active;
            report.jobs.failed += counts.failed;
            report.jobs.queue_requests += counts.queue_requests;
            if page.len() < self.page_size as usize {
                break;
            }
            after = Some(last);
        }
        report.elapsed_ms = started.elapsed().as_millis() as u64;
        info!(?report, "nightly syncs queued");
        Ok(report)
    }
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
    scheduler.run().instrument(span).await
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

impl From<ScheduleError> for lambda_runtime::Diagnostic {
    fn from(e: ScheduleError) -> Self {
        Self {
            error_type: "ScheduleError".into(),
            error_message: stk_core::error::chain(&e),
        }
    }
}
