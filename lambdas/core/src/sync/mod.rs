//! The sync engine: one job, from claim to a final status, in small steps.
//!
//! - [`plan`]: the source, its tokens, and where the job starts (its own checkpoint, or the one
//!   an unfinished sync left on the source);
//! - [`pages`]: SmashRun's pages, each stored while the next is fetched;
//! - [`reconcile`]: deletions decided against one listing of every id, and listed runs that
//!   paging did not show fetched by id;
//! - [`advice`]: how a failure ends a delivery, and what the runner is told.
//!
//! Every step is safe to repeat. Runs are upserted under their natural key with the source's
//! checkpoint in the same transaction, so a delivery that crashes anywhere resumes from the last
//! page that landed. A job never waits inside a delivery for long: a rate limit, a backoff or a
//! near deadline writes the job down as `waiting` and hands its message back for that time.

mod advice;
mod pages;
mod plan;
mod reconcile;
mod tokens;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use stk_protocol::{JobError, JobErrorCode, JobStatus, SyncKind};
use time::OffsetDateTime;
use tracing::{Instrument, info, info_span, warn};

pub use self::advice::Fault;
pub use self::advice::RetryLater;
use self::advice::{Ending, Stop};
use crate::clock::Clock;
use crate::error::{JobStoreError, SmashrunError, StoreError, chain};
use crate::job::{Job, JobMessage, Lease, ScheduledSync, SyncSpec};
use crate::ports::{Claim, Created, JobQueue, JobRepository, RunStore, SmashrunApi, SourceStore};

#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// Activities per SmashRun request (SmashRun's maximum is 100).
    pub page_size: u32,
    /// How long a claim protects a job. Renewed with every progress write, and the message is
    /// kept invisible a little longer, so a crashed worker's job is taken up within minutes.
    pub lease: Duration,
    /// How often a running job's progress is written to the job table. The checkpoint that
    /// matters lands with every page's runs; this one only feeds `GET /sync/{id}`.
    pub progress_interval: Duration,
    /// How far before the stored cursor an incremental sync starts, for late uploads and clock skew.
    pub overlap: Duration,
    /// Deliveries ending in a fault or a crash after which the job is failed.
    pub max_failures: u32,
    /// In-delivery retries of one request.
    pub retry_times: usize,
    pub retry_min_delay: Duration,
    pub retry_max_delay: Duration,
    /// A `Retry-After` up to this is slept through in place; a longer one makes the job wait.
    pub max_retry_after: Duration,
    /// The first wait after a faulty delivery; it doubles with each one after.
    pub fault_backoff: Duration,
    pub max_fault_backoff: Duration,
    /// SmashRun requests a job may make per `budget_window`: it waits rather than run into 429s.
    pub hourly_budget: u32,
    /// The window of the budget, and the wait after a 429 without `Retry-After` (an hour;
    /// scaled down in tests).
    pub budget_window: Duration,
    /// The longest a job waits at once (a longer rate limit is waited out in several). SQS
    /// hides a message twelve hours at most; tests shrink it to play an hour out in a second.
    pub max_wait: Duration,
    /// With less than this left before the invocation's deadline, the job hands over.
    pub deadline_margin: Duration,
    /// Bound on pages per job, so a SmashRun that never stops paging cannot run a job forever.
    pub max_pages: u32,
    /// Listed runs that paging missed, fetched one by one per sync (the rest by the next).
    pub max_fetch_by_id: u32,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            page_size: 100,
            lease: Duration::from_secs(120),
            progress_interval: Duration::from_secs(1),
            overlap: Duration::from_secs(24 * 3600),
            max_failures: 5,
            retry_times: 4,
            retry_min_delay: Duration::from_millis(200),
            retry_max_delay: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(30),
            fault_backoff: Duration::from_secs(30),
            max_fault_backoff: Duration::from_secs(15 * 60),
            hourly_budget: 250,
            budget_window: Duration::from_secs(3600),
            max_wait: MAX_HIDDEN,
            deadline_margin: Duration::from_secs(30),
            max_pages: 5_000,
            max_fetch_by_id: 100,
        }
    }
}

/// One delivery of a message, as the queue handed it over.
#[derive(Debug, Clone, Default)]
pub struct Delivery {
    /// SQS's receive count (1 on the first).
    pub receives: u32,
    /// The receipt handle, to keep the message hidden while the job runs.
    pub receipt: Option<String>,
    /// When the invocation must have returned (Lambda's deadline).
    pub deadline: Option<OffsetDateTime>,
}

/// How a job message must be settled with the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Failed,
    /// Nothing to do: a duplicate delivery of a finished or missing job.
    Skipped,
    /// A chunk of nightly syncs was split into one message per user.
    Dispatched,
}

/// The longest a message can stay hidden (SQS's limit on a visibility timeout).
pub const MAX_HIDDEN: Duration = Duration::from_secs(12 * 3600);

#[derive(Debug)]
pub struct SyncEngine {
    jobs: Arc<dyn JobRepository>,
    smashrun: Arc<dyn SmashrunApi>,
    runs: Arc<dyn RunStore>,
    sources: Arc<dyn SourceStore>,
    queue: Arc<dyn JobQueue>,
    clock: Arc<dyn Clock>,
    settings: EngineSettings,
    worker_id: String,
}

/// The ports the engine drives.
#[derive(Debug, Clone)]
pub struct EnginePorts {
    pub jobs: Arc<dyn JobRepository>,
    pub smashrun: Arc<dyn SmashrunApi>,
    pub runs: Arc<dyn RunStore>,
    pub sources: Arc<dyn SourceStore>,
    pub queue: Arc<dyn JobQueue>,
    pub clock: Arc<dyn Clock>,
}

/// Request counters of one delivery, added to the job's progress.
#[derive(Debug, Default)]
struct Counters {
    smashrun: AtomicU64,
    store: AtomicU64,
}

/// What one delivery works with besides the job.
struct Run<'a> {
    delivery: &'a Delivery,
    counters: Counters,
    /// When the job record was last written (progress and lease).
    saved_at: OffsetDateTime,
    /// SmashRun requests already charged to the budget.
    charged: u64,
    /// The invocation's deadline, when it is one to go by.
    deadline: Option<OffsetDateTime>,
    /// Time kept in hand before the deadline: the setting, or a third of the invocation when
    /// that is shorter (so a short invocation still gets work done).
    margin: Duration,
}

trait Transient {
    fn transient(&self) -> bool;
    fn retry_after(&self) -> Option<Duration> {
        None
    }
}

impl Transient for SmashrunError {
    fn transient(&self) -> bool {
        // A rate limit without a `Retry-After` is a rolling hour: retrying in place is useless.
        match self {
            Self::RateLimited { retry_after } => retry_after.is_some(),
            other => other.is_transient(),
        }
    }
    fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after } => *retry_after,
            _ => None,
        }
    }
}

impl Transient for StoreError {
    fn transient(&self) -> bool {
        self.is_transient()
    }
}

impl Transient for JobStoreError {
    fn transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

impl Transient for crate::error::QueueError {
    fn transient(&self) -> bool {
        true
    }
}

impl SyncEngine {
    pub fn new(ports: EnginePorts, settings: EngineSettings, worker_id: String) -> Self {
        Self {
            jobs: ports.jobs,
            smashrun: ports.smashrun,
            runs: ports.runs,
            sources: ports.sources,
            queue: ports.queue,
            clock: ports.clock,
            settings,
            worker_id,
        }
    }

    pub fn settings(&self) -> &EngineSettings {
        &self.settings
    }

    /// Starts a user's nightly sync: creates its job (once per night, by idempotency key) and
    /// runs it, unless a sync of the user's is already under way.
    pub async fn handle_scheduled(
        &self,
        scheduled: ScheduledSync,
        delivery: &Delivery,
    ) -> Result<Outcome, RetryLater> {
        let span = info_span!("nightly_sync", user_id = %scheduled.user_id, night = %scheduled.night, receives = delivery.receives);
        async {
            let job = Job::new(scheduled.user_id, SyncSpec::incremental(), self.clock.now());
            let key = scheduled.idempotency_key();
            let created = self
                .retry(|| self.jobs.create(&job, Some(&key)))
                .await
                .map_err(|e| RetryLater::fault(Fault::Jobs(e)))?;
            let job = match created {
                Created::New(job) | Created::Repeated(job) => job,
                Created::Active(active) if active.status != JobStatus::Queued => {
                    info!(job_id = %active.id, status = active.status.as_str(), "a sync is already under way: tonight's is skipped");
                    return Ok(Outcome::Skipped);
                }
                // A queued sync the runner asked for: running it now serves tonight too.
                Created::Active(queued) => queued,
            };
            self.handle(
                JobMessage {
                    job_id: job.id,
                    user_id: job.user_id,
                },
                delivery,
            )
            .await
        }
        .instrument(span)
        .await
    }

    /// Handles one delivery of a job message.
    pub async fn handle(
        &self,
        message: JobMessage,
        delivery: &Delivery,
    ) -> Result<Outcome, RetryLater> {
        let span = info_span!("sync_job", job_id = %message.job_id, user_id = %message.user_id, receives = delivery.receives);
        self.handle_inner(message, delivery).instrument(span).await
    }

    async fn handle_inner(
        &self,
        message: JobMessage,
        delivery: &Delivery,
    ) -> Result<Outcome, RetryLater> {
        let now = self.clock.now();
        let lease = Lease {
            owner: format!("{}:{}", self.worker_id, uuid::Uuid::new_v4()),
            until: now + self.settings.lease,
        };
        let claim = self
            .retry(|| self.jobs.claim(message.job_id, lease.clone(), now))
            .await
            .map_err(|e| RetryLater::fault(Fault::Jobs(e)))?;
        let (mut job, after_crash) = match claim {
            Claim::Claimed { job, after_crash } => (job, after_crash),
            Claim::Finished(job) => {
                info!(
                    status = job.status.as_str(),
                    "job already finished: duplicate delivery acknowledged"
                );
                return Ok(Outcome::Skipped);
            }
            Claim::Missing => {
                warn!("no such job: message acknowledged and dropped");
                return Ok(Outcome::Skipped);
            }
            Claim::Busy { until } => {
                info!(
                    ?until,
                    "job held by another worker or waiting: message hidden until then"
                );
                return Err(RetryLater::NotYet { until });
            }
        };
        if job.user_id != message.user_id {
            warn!(job_user = %job.user_id, "message names another user than the job: the job's own user is used");
        }
        self.keep_hidden(delivery).await;
        let mut run = Run {
            delivery,
            counters: Counters::default(),
            saved_at: now,
            charged: job.progress.smashrun_requests,
            deadline: delivery.deadline,
            margin: delivery
                .deadline
                .and_then(|d| Duration::try_from(d - now).ok())
                .map_or(self.settings.deadline_margin, |left| {
                    self.settings.deadline_margin.min(left / 3)
                }),
        };
        if delivery.deadline.is_some_and(|d| d <= now) {
            // An invocation past its deadline would have been stopped: the clock or the
            // runtime emulating Lambda is wrong, and the deadline is no guide.
            warn!(deadline = ?delivery.deadline, "the invocation's deadline is already past: ignored");
            run.deadline = None;
        }
        if after_crash {
            job.failures += 1;
            warn!(
                failures = job.failures,
                "the previous worker stopped without a word"
            );
            // Written at once: a worker that keeps crashing must not keep forgetting it.
            if let Err(stop) = self.save(&mut job, &mut run).await {
                return self.settle(job, Err(stop)).await;
            }
        }
        info!(
            attempt = job.attempts,
            failures = job.failures,
            kind = job.spec.kind.as_str(),
            next_page = job.checkpoint.next_page,
            "job claimed"
        );
        let result = if job.failures >= self.settings.max_failures {
            // Crashed on every attempt: whatever stops it would stop it again.
            Err(Stop::Fail {
                code: JobErrorCode::WorkerStopped,
                message: format!(
                    "the sync stopped {} times before it could finish: run `stk sync` again; runs synced so far are kept and it continues from there",
                    job.failures
                ),
            })
        } else {
            self.drive(&mut job, &mut run).await
        };
        self.add_counters(&mut job, &run.counters);
        self.settle(job, result).await
    }

    /// Writes down how the delivery ended and tells the queue what to do with the message.
    async fn settle(&self, mut job: Job, result: Result<(), Stop>) -> Result<Outcome, RetryLater> {
        let now = self.clock.now();
        let stop = match result {
            Ok(()) => {
                job.status = JobStatus::Succeeded;
                job.error = None;
                return self.finish(job).await;
            }
            Err(stop) => stop,
        };
        match self.advice(&mut job, stop, now) {
            Ending::Fail { code, message } => {
                warn!(code = code.as_str(), reason = %message, "job failed");
                job.status = JobStatus::Failed;
                job.error = Some(JobError::new(code, message));
                self.finish(job).await
            }
            Ending::LeaseLost => {
                warn!("lease lost to another worker: the message stays hidden while it works");
                Err(RetryLater::NotYet {
                    until: Some(now + self.settings.lease),
                })
            }
            Ending::Wait { until, reason } => {
                job.status = JobStatus::Waiting;
                job.waiting = Some((until, reason));
                job.updated_at = now;
                job.lease = job.lease.take().map(|l| Lease { until, ..l });
                match self.retry(|| self.jobs.save_progress(&job)).await {
                    Ok(()) => {
                        info!(until = %crate::job::rfc3339(until), reason = reason.as_str(), "job waits; message handed back until then");
                        Err(RetryLater::Waiting { until, reason })
                    }
                    Err(JobStoreError::Conflict) => Ok(Outcome::Skipped),
                    Err(e) => Err(RetryLater::fault(Fault::Jobs(e))),
                }
            }
        }
    }

    async fn finish(&self, mut job: Job) -> Result<Outcome, RetryLater> {
        job.finished_at = Some(self.clock.now());
        job.waiting = None;
        let outcome = if job.status == JobStatus::Succeeded {
            Outcome::Succeeded
        } else {
            Outcome::Failed
        };
        match self.retry(|| self.jobs.finish(&job)).await {
            Ok(()) => {
                info!(status = job.status.as_str(), progress = ?job.progress, "job finished");
                Ok(outcome)
            }
            Err(JobStoreError::Conflict) => Ok(Outcome::Skipped),
            Err(e) => Err(RetryLater::fault(Fault::Jobs(e))),
        }
    }

    /// A message that reached the dead-letter queue: its job, if unfinished, fails with a reason
    /// instead of staying active for a day.
    pub async fn fail_dead_lettered(&self, message: JobMessage) -> Result<Outcome, RetryLater> {
        let span = info_span!("dead_lettered_job", job_id = %message.job_id);
        async {
            let job = self
                .retry(|| self.jobs.get(message.job_id))
                .await
                .map_err(|e| RetryLater::fault(Fault::Jobs(e)))?;
            let Some(mut job) = job.filter(|j| !j.status.is_finished()) else {
                return Ok(Outcome::Skipped);
            };
            job.status = JobStatus::Failed;
            job.error = Some(JobError::new(
                JobErrorCode::DeadLettered,
                "the sync could not be delivered to a worker: run `stk sync` again; runs synced so far are kept",
            ));
            self.finish(job).await
        }
        .instrument(span)
        .await
    }

    /// The steps of a job's run, from where its checkpoint stands.
    async fn drive(&self, job: &mut Job, run: &mut Run<'_>) -> Result<(), Stop> {
        let mut linked = self.plan(job, run).await?;
        if !job.checkpoint.paging_done {
            self.pages(job, run, &mut linked).await?;
        }
        self.reconcile(job, run, &mut linked).await?;
        self.count(job, run).await?;
        let cursor = match job.spec.kind {
            SyncKind::Range => None,
            SyncKind::Incremental | SyncKind::Full => job.checkpoint.cursor_candidate,
        };
        let (user, at) = (job.user_id, self.clock.now());
        let source_user_id = linked.source_user_id;
        self.counted(&run.counters.store, || {
            self.sources.record_sync(user, &source_user_id, cursor, at)
        })
        .await?;
        Ok(())
    }

    /// The job's counts from what the store says it did, so pages upserted twice after a crash,
    /// or a run shown on two pages, are counted once.
    async fn count(&self, job: &mut Job, run: &mut Run<'_>) -> Result<(), Stop> {
        let (user, id) = (job.user_id, job.id);
        let (inserted, updated) = self
            .counted(&run.counters.store, || self.runs.job_counts(user, id))
            .await?;
        job.progress.runs_inserted = inserted;
        job.progress.runs_updated = updated;
        job.progress.runs_unchanged = job.checkpoint.runs_read.saturating_sub(inserted + updated);
        Ok(())
    }

    /// Writes progress, renews the lease and keeps the message hidden as long.
    async fn save(&self, job: &mut Job, run: &mut Run<'_>) -> Result<(), Stop> {
        let now = self.clock.now();
        self.add_counters(job, &run.counters);
        job.updated_at = now;
        job.lease = job.lease.take().map(|l| Lease {
            until: now + self.settings.lease,
            ..l
        });
        self.retry(|| self.jobs.save_progress(job)).await?;
        run.saved_at = now;
        self.keep_hidden(run.delivery).await;
        Ok(())
    }

    /// Saves progress if the last save is older than the interval.
    async fn save_if_due(&self, job: &mut Job, run: &mut Run<'_>) -> Result<(), Stop> {
        if self.clock.now() - run.saved_at >= self.settings.progress_interval {
            self.save(job, run).await?;
        }
        Ok(())
    }

    /// Keeps the message hidden a little longer than the lease: while this worker lives it
    /// renews both; once it stops, the message comes back just after the lease lapses.
    async fn keep_hidden(&self, delivery: &Delivery) {
        if let Some(receipt) = &delivery.receipt {
            let hidden = self.settings.lease + self.settings.lease / 4;
            if let Err(e) = self.queue.set_visibility(receipt, hidden).await {
                warn!(error = %chain(&e), "could not keep the message hidden; a duplicate delivery will find the lease held");
            }
        }
    }

    fn add_counters(&self, job: &mut Job, counters: &Counters) {
        job.progress.smashrun_requests += counters.smashrun.swap(0, Ordering::Relaxed);
        job.progress.store_requests += counters.store.swap(0, Ordering::Relaxed);
    }

    /// Retries transient failures with exponential backoff and jitter, honouring `Retry-After`
    /// up to `max_retry_after`, and counts every attempt.
    async fn counted<T, E, F, Fut>(&self, counter: &AtomicU64, op: F) -> Result<T, E>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: Transient + std::error::Error + 'static,
    {
        let max_retry_after = self.settings.max_retry_after;
        (|| {
            counter.fetch_add(1, Ordering::Relaxed);
            op()
        })
        .retry(self.backoff())
        .sleep(tokio::time::sleep)
        .when(|e: &E| e.transient() && e.retry_after().is_none_or(|w| w <= max_retry_after))
        .adjust(move |e: &E, backoff| match (backoff, e.retry_after()) {
            (None, _) => None,
            (Some(_), Some(wait)) => Some(wait),
            (Some(backoff), None) => Some(backoff),
        })
        .notify(|e: &E, wait| warn!(error = %chain(e), ?wait, "transient failure: retrying"))
        .await
    }

    async fn retry<T, E, F, Fut>(&self, op: F) -> Result<T, E>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: Transient + std::error::Error + 'static,
    {
        let unused = AtomicU64::new(0);
        self.counted(&unused, op).await
    }

    fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.settings.retry_min_delay)
            .with_max_delay(self.settings.retry_max_delay)
            .with_max_times(self.settings.retry_times)
            .with_jitter()
    }
}

#[cfg(test)]
mod tests;
