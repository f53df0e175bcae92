//! The sync engine: one job, from claim to a final status, page by page.
//!
//! Every step is safe to repeat. Pages are upserted under the run's natural key, the checkpoint
//! is written after each page, and a job that is redelivered after a crash resumes from it.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use secrecy::SecretString;
use stk_protocol::{JobError, JobErrorCode, JobStatus, SyncKind};
use tracing::{Instrument, info, info_span, warn};

use crate::activity::Run;
use crate::clock::Clock;
use crate::error::{JobStoreError, SmashrunError, StoreError, chain};
use crate::ids::UserId;
use crate::job::{Job, JobMessage, Lease, ScheduledSync, SyncSpec};
use crate::ports::{
    Claim, Created, JobRepository, RunStore, SmashrunApi, SourceStore, UpsertCounts,
};
use crate::tokens::TokenSet;

#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// Activities per SmashRun request (SmashRun's maximum is 100).
    pub page_size: u32,
    /// How long a claim protects a job; renewed after every page.
    pub lease: Duration,
    /// How far before the stored cursor an incremental sync starts, for late uploads and clock skew.
    pub overlap: Duration,
    /// Deliveries after which a still-failing job is marked failed (SQS `maxReceiveCount`).
    pub max_attempts: u32,
    /// In-invocation retries of one request.
    pub retry_times: usize,
    pub retry_min_delay: Duration,
    pub retry_max_delay: Duration,
    /// A `Retry-After` longer than this is not slept through: the delivery is retried later.
    pub max_retry_after: Duration,
    /// Bound on pages per job, so a SmashRun that never stops paging cannot run a job forever.
    pub max_pages: u32,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            page_size: 100,
            lease: Duration::from_secs(300),
            overlap: Duration::from_secs(24 * 3600),
            max_attempts: 5,
            retry_times: 4,
            retry_min_delay: Duration::from_millis(200),
            retry_max_delay: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(30),
            max_pages: 5_000,
        }
    }
}

/// What became of one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Failed,
    /// Nothing to do: a duplicate delivery of a finished or missing job, or one taken over.
    Skipped,
    /// A chunk of nightly syncs was split into one message per user.
    Dispatched,
}

/// A delivery that should come back later (reported to SQS as a batch item failure).
#[derive(Debug, thiserror::Error)]
pub enum RetryLater {
    #[error("another worker holds job's lease")]
    Busy,
    #[error("smashrun is unavailable")]
    Smashrun(#[source] SmashrunError),
    #[error("the run store is unavailable")]
    Store(#[source] StoreError),
    #[error("the job table is unavailable")]
    Jobs(#[source] JobStoreError),
    #[error("the job queue is unavailable")]
    Queue(#[source] crate::error::QueueError),
}

/// How a job run ended, before it is written down.
#[derive(Debug)]
enum Stop {
    /// Give the job up with a message for the runner.
    Fail { code: JobErrorCode, message: String },
    /// Leave the job to a later delivery.
    Retry(RetryLater),
    /// Another worker took the job over; it will finish it.
    LeaseLost,
}

impl From<JobStoreError> for Stop {
    fn from(e: JobStoreError) -> Self {
        match e {
            JobStoreError::Conflict => Stop::LeaseLost,
            other => Stop::Retry(RetryLater::Jobs(other)),
        }
    }
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Self {
        if e.is_transient() {
            return Stop::Retry(RetryLater::Store(e));
        }
        match e {
            StoreError::Decrypt => Stop::Fail {
                code: JobErrorCode::TokensUnreadable,
                message: "the stored SmashRun authorisation could not be read: run `stk auth login` to link your account again".into(),
            },
            other => Stop::Fail {
                code: JobErrorCode::StoreRejected,
                message: format!("the run store refused the data ({other}); please report this job id"),
            },
        }
    }
}

trait Transient {
    fn transient(&self) -> bool;
    fn retry_after(&self) -> Option<Duration> {
        None
    }
}

impl Transient for SmashrunError {
    fn transient(&self) -> bool {
        self.is_transient()
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

#[derive(Debug)]
pub struct SyncEngine {
    jobs: Arc<dyn JobRepository>,
    smashrun: Arc<dyn SmashrunApi>,
    runs: Arc<dyn RunStore>,
    sources: Arc<dyn SourceStore>,
    clock: Arc<dyn Clock>,
    settings: EngineSettings,
    worker_id: String,
}

/// Request counters of one delivery, added to the job's progress.
#[derive(Debug, Default)]
struct Counters {
    smashrun: AtomicU64,
    store: AtomicU64,
}

impl SyncEngine {
    pub fn new(
        jobs: Arc<dyn JobRepository>,
        smashrun: Arc<dyn SmashrunApi>,
        runs: Arc<dyn RunStore>,
        sources: Arc<dyn SourceStore>,
        clock: Arc<dyn Clock>,
        settings: EngineSettings,
        worker_id: String,
    ) -> Self {
        Self {
            jobs,
            smashrun,
            runs,
            sources,
            clock,
            settings,
            worker_id,
        }
    }

    pub fn settings(&self) -> &EngineSettings {
        &self.settings
    }

    /// Starts a user's nightly sync: creates its job (once per night, by idempotency key) and
    /// runs it, unless a sync of the user's is already running.
    pub async fn handle_scheduled(
        &self,
        scheduled: ScheduledSync,
        delivery: u32,
    ) -> Result<Outcome, RetryLater> {
        let span = info_span!("nightly_sync", user_id = %scheduled.user_id, night = %scheduled.night, delivery);
        self.handle_scheduled_inner(scheduled, delivery)
            .instrument(span)
            .await
    }

    async fn handle_scheduled_inner(
        &self,
        scheduled: ScheduledSync,
        delivery: u32,
    ) -> Result<Outcome, RetryLater> {
        let job = Job::new(scheduled.user_id, SyncSpec::incremental(), self.clock.now());
        let key = scheduled.idempotency_key();
        let created = self
            .retry(|| self.jobs.create(&job, Some(&key)))
            .await
            .map_err(RetryLater::Jobs)?;
        let job = match created {
            Created::New(job) | Created::Repeated(job) => job,
            Created::Active(active) if active.status == JobStatus::Running => {
                info!(job_id = %active.id, "a sync is already running: tonight's is skipped");
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

    /// Handles one delivery of a job message. `delivery` is SQS's receive count (1 on the first).
    pub async fn handle(&self, message: JobMessage, delivery: u32) -> Result<Outcome, RetryLater> {
        let span =
            info_span!("sync_job", job_id = %message.job_id, user_id = %message.user_id, delivery);
        self.handle_inner(message, delivery).instrument(span).await
    }

    async fn handle_inner(
        &self,
        message: JobMessage,
        delivery: u32,
    ) -> Result<Outcome, RetryLater> {
        let now = self.clock.now();
        let lease = Lease {
            owner: format!("{}:{}", self.worker_id, uuid::Uuid::new_v4()),
            until: now + self.settings.lease,
        };
        let claim = self
            .retry(|| self.jobs.claim(message.job_id, lease.clone(), now))
            .await
            .map_err(RetryLater::Jobs)?;
        let mut job = match claim {
            Claim::Claimed(job) => job,
            Claim::Finished(job) => {
                info!(status = ?job.status, "job already finished: duplicate delivery acknowledged");
                return Ok(Outcome::Skipped);
            }
            Claim::Missing => {
                warn!("no such job: message acknowledged and dropped");
                return Ok(Outcome::Skipped);
            }
            Claim::Busy => return Err(RetryLater::Busy),
        };
        if job.user_id != message.user_id {
            warn!(job_user = %job.user_id, "message names another user than the job: the job's own user is used");
        }
        info!(attempt = job.attempts, kind = ?job.spec.kind, next_page = job.checkpoint.next_page, "job claimed");

        let counters = Counters::default();
        let result = self.drive(&mut job, &counters).await;
        self.add_counters(&mut job, &counters);
        match result {
            Ok(()) => {
                job.status = JobStatus::Succeeded;
                job.error = None;
                self.finish(job).await
            }
            Err(Stop::LeaseLost) => {
                warn!("lease lost to another worker: leaving the job to it");
                Ok(Outcome::Skipped)
            }
            Err(Stop::Fail { code, message }) => {
                warn!(code = code.as_str(), reason = %message, "job failed");
                job.status = JobStatus::Failed;
                job.error = Some(JobError::new(code, message));
                self.finish(job).await
            }
            Err(Stop::Retry(cause)) if delivery >= self.settings.max_attempts => {
                warn!(error = %chain(&cause), "still failing on the last attempt: job failed");
                let (code, message) = match &cause {
                    RetryLater::Smashrun(SmashrunError::RateLimited { .. }) => (
                        JobErrorCode::SmashrunRateLimited,
                        "SmashRun's rate limit held for too long: run `stk sync` again in an hour".to_owned(),
                    ),
                    RetryLater::Smashrun(_) => (
                        JobErrorCode::SmashrunUnavailable,
                        "SmashRun kept failing: run `stk sync` again later; runs synced so far are kept".to_owned(),
                    ),
                    _ => (
                        JobErrorCode::ServiceUnavailable,
                        "the service kept failing: run `stk sync` again later; runs synced so far are kept".to_owned(),
                    ),
                };
                job.status = JobStatus::Failed;
                job.error = Some(JobError::new(code, message));
                self.finish(job).await
            }
            Err(Stop::Retry(cause)) => {
                warn!(error = %chain(&cause), "transient failure: the delivery will be retried from the checkpoint");
                // Give the lease back so the redelivery need not wait for it to lapse.
                job.lease = job.lease.take().map(|l| Lease {
                    until: self.clock.now(),
                    ..l
                });
                if let Err(e) = self.jobs.save_progress(&job).await {
                    warn!(error = %e, "could not release the lease; it will lapse by itself");
                }
                Err(cause)
            }
        }
    }

    async fn finish(&self, mut job: Job) -> Result<Outcome, RetryLater> {
        job.finished_at = Some(self.clock.now());
        let outcome = if job.status == JobStatus::Succeeded {
            Outcome::Succeeded
        } else {
            Outcome::Failed
        };
        match self.retry(|| self.jobs.finish(&job)).await {
            Ok(()) => {
                info!(status = ?job.status, progress = ?job.progress, "job finished");
                Ok(outcome)
            }
            Err(JobStoreError::Conflict) => Ok(Outcome::Skipped),
            Err(e) => Err(RetryLater::Jobs(e)),
        }
    }

    fn add_counters(&self, job: &mut Job, counters: &Counters) {
        job.progress.smashrun_requests += counters.smashrun.swap(0, Ordering::Relaxed);
        job.progress.store_requests += counters.store.swap(0, Ordering::Relaxed);
    }

    async fn drive(&self, job: &mut Job, counters: &Counters) -> Result<(), Stop> {
        let user = job.user_id;
        let source = self
            .retry(|| self.sources.smashrun_source(user))
            .await?
            .ok_or_else(|| Stop::Fail {
                code: JobErrorCode::NotLinked,
                message: "no SmashRun account is linked to this user: run `stk auth login`".into(),
            })?;
        let source_user_id = source.source_user_id.clone();
        let mut tokens = Held {
            set: source.tokens.clone(),
            version: source.tokens_version,
        };
        let mut refreshed = false;
        if tokens.set.needs_refresh(self.clock.now()) {
            self.refresh(user, &source_user_id, &mut tokens, counters)
                .await?;
            refreshed = true;
        }

        if job.checkpoint.cursor_candidate.is_none() {
            let now = self.clock.now();
            job.started_at = Some(now);
            job.checkpoint.cursor_candidate = Some(now);
            job.checkpoint.from_utc = match job.spec.kind {
                SyncKind::Incremental => source.sync_cursor.map(|c| c - self.settings.overlap),
                SyncKind::Range | SyncKind::Full => None,
            };
            if job.checkpoint.from_utc.is_none() && job.spec.kind != SyncKind::Range {
                // Only a progress bar depends on it: a failure here must not fail the sync.
                counters.smashrun.fetch_add(1, Ordering::Relaxed);
                match self.smashrun.run_count(&tokens.set.access_token).await {
                    Ok(total) => job.progress.expected_total = total,
                    Err(e) => warn!(error = %e, "could not read the expected total"),
                }
            }
        }

        loop {
            let page = job.checkpoint.next_page;
            if page >= self.settings.max_pages {
                return Err(Stop::Fail {
                    code: JobErrorCode::TooManyPages,
                    message: format!(
                        "SmashRun kept returning pages past {page}: the sync stopped to stay safe; please report this job id"
                    ),
                });
            }
            let activities = self
                .fetch_page(
                    job,
                    user,
                    &source_user_id,
                    &mut tokens,
                    &mut refreshed,
                    counters,
                )
                .instrument(info_span!("fetch_page", page))
                .await?;
            let page_len = activities.len();
            let PageRead {
                runs,
                rejected,
                reasons,
                oldest,
            } = self.read_page(job, &activities);
            let full_sync = (job.spec.kind == SyncKind::Full).then_some(job.id);
            let counts = if runs.is_empty() {
                UpsertCounts::default()
            } else {
                self.counted(&counters.store, || {
                    self.runs.upsert_runs(user, &runs, full_sync)
                })
                .instrument(info_span!("upsert_page", page, runs = runs.len()))
                .await?
            };
            // Counted only once the page has landed, so a retried page is not counted twice.
            job.progress.pages += 1;
            job.progress.activities_seen += page_len as u64;
            job.progress.activities_rejected += rejected;
            for reason in reasons {
                // A page read again after a crash lists its rejects once.
                let listed = &mut job.progress.rejected;
                if listed.len() < stk_protocol::MAX_REJECTED_LISTED && !listed.contains(&reason) {
                    listed.push(reason);
                }
            }
            job.progress.runs_inserted += counts.inserted;
            job.progress.runs_updated += counts.updated;
            job.progress.runs_unchanged += counts.unchanged;
            job.checkpoint.next_page = page + 1;
            self.add_counters(job, counters);
            job.lease = job.lease.take().map(|l| Lease {
                until: self.clock.now() + self.settings.lease,
                ..l
            });
            self.retry(|| self.jobs.save_progress(job)).await?;

            let reached_end = page_len < self.settings.page_size as usize;
            let past_range = matches!(
                (job.spec.kind, job.spec.since, oldest),
                (SyncKind::Range, Some(since), Some(oldest)) if oldest < to_date(since)
            );
            if reached_end || past_range {
                break;
            }
        }

        if job.spec.kind == SyncKind::Full {
            if job.progress.activities_rejected > 0 {
                // An activity SmashRun still lists but we could not read was not marked seen:
                // marking now would hide a run that exists. The next clean full sync does it.
                warn!(
                    rejected = job.progress.activities_rejected,
                    "unreadable activities: runs gone upstream are not marked deleted this time"
                );
            } else {
                // Every page was read: what SmashRun did not list is gone upstream.
                let id = job.id;
                job.progress.runs_deleted = self
                    .counted(&counters.store, || self.runs.mark_unseen_deleted(user, id))
                    .await?;
            }
        }
        let cursor = match job.spec.kind {
            SyncKind::Range => None,
            SyncKind::Incremental | SyncKind::Full => job.checkpoint.cursor_candidate,
        };
        let at = self.clock.now();
        self.counted(&counters.store, || {
            self.sources.record_sync(user, &source_user_id, cursor, at)
        })
        .await?;
        Ok(())
    }

    /// Reads a page into runs: unreadable activities are counted and logged, runs outside a
    /// range dropped, and duplicate ids within the page collapsed (one upsert cannot touch a
    /// row twice). Also returns the oldest local date on the page.
    fn read_page(&self, job: &Job, activities: &[serde_json::Value]) -> PageRead {
        let mut runs: Vec<Run> = Vec::with_capacity(activities.len());
        let mut rejected = 0;
        let mut reasons = Vec::new();
        let mut oldest = None;
        for activity in activities {
            match Run::from_smashrun(activity) {
                Ok(run) => {
                    oldest =
                        Some(oldest.map_or(run.local_date, |o: time::Date| o.min(run.local_date)));
                    if in_range(job, run.local_date) {
                        runs.push(run);
                    }
                }
                Err(e) => {
                    rejected += 1;
                    warn!(error = %e, "activity rejected");
                    if reasons.len() < stk_protocol::MAX_REJECTED_LISTED {
                        reasons.push(stk_protocol::RejectedActivity {
                            activity_id: e.activity_id().map(str::to_owned),
                            reason: e.to_string(),
                        });
                    }
                }
            }
        }
        let mut seen = std::collections::HashSet::with_capacity(runs.len());
        runs.retain(|r| seen.insert(r.source_activity_id));
        PageRead {
            runs,
            rejected,
            reasons,
            oldest,
        }
    }

    async fn fetch_page(
        &self,
        job: &Job,
        user: UserId,
        source_user_id: &str,
        tokens: &mut Held,
        refreshed: &mut bool,
        counters: &Counters,
    ) -> Result<Vec<serde_json::Value>, Stop> {
        let page = job.checkpoint.next_page;
        let since = job.checkpoint.from_utc;
        loop {
            let access = tokens.set.access_token.clone();
            let result = self
                .counted(&counters.smashrun, || {
                    self.smashrun
                        .search_page(&access, page, self.settings.page_size, since)
                })
                .await;
            match result {
                Ok(activities) => return Ok(activities),
                Err(SmashrunError::Unauthorized) if !*refreshed => {
                    info!("smashrun refused the access token: refreshing once");
                    self.refresh(user, source_user_id, tokens, counters).await?;
                    *refreshed = true;
                }
                Err(e) => return Err(smashrun_stop(e)),
            }
        }
    }

    /// Renews the token pair and stores it before using it: once SmashRun has rotated the
    /// refresh token, the new one is the only one that works. Another worker may be refreshing
    /// the same user at once: the save is a compare-and-set on the version read, and the loser
    /// (whose refresh SmashRun may also have refused, the token having rotated) uses the pair
    /// the winner stored.
    async fn refresh(
        &self,
        user: UserId,
        source_user_id: &str,
        tokens: &mut Held,
        counters: &Counters,
    ) -> Result<(), Stop> {
        let span = info_span!("refresh_tokens");
        async {
            let old_refresh: SecretString = tokens.set.refresh_token.clone();
            let grant = match self
                .counted(&counters.smashrun, || self.smashrun.refresh(&old_refresh))
                .await
            {
                Ok(grant) => grant,
                Err(SmashrunError::InvalidGrant(why)) => {
                    if self.adopt_newer(user, tokens, counters).await? {
                        info!("another worker refreshed first: using the pair it stored");
                        return Ok(());
                    }
                    warn!(reason = %why, "smashrun refused the refresh token: the runner must log in again");
                    self.counted(&counters.store, || {
                        self.sources.mark_needs_relink(user, source_user_id)
                    })
                    .await?;
                    return Err(smashrun_stop(SmashrunError::InvalidGrant(why)));
                }
                Err(e) => return Err(smashrun_stop(e)),
            };
            let renewed = TokenSet::from_grant(grant, Some(&old_refresh), self.clock.now())
                .ok_or_else(|| Stop::Fail {
                    code: JobErrorCode::SmashrunAuth,
                    message:
                        "SmashRun renewed access without a refresh token: run `stk auth login`"
                            .into(),
                })?;
            let saved = self
                .counted(&counters.store, || {
                    self.sources
                        .save_tokens(user, source_user_id, &renewed, tokens.version)
                })
                .await?;
            match saved {
                Some(version) => {
                    *tokens = Held {
                        set: renewed,
                        version,
                    };
                    info!("smashrun tokens refreshed and stored");
                }
                None => {
                    self.adopt_newer(user, tokens, counters).await?;
                    info!("another worker stored a newer pair first: using it");
                }
            }
            Ok(())
        }
        .instrument(span)
        .await
    }

    /// Reads the stored pair; takes it when it is newer than the one held.
    async fn adopt_newer(
        &self,
        user: UserId,
        tokens: &mut Held,
        counters: &Counters,
    ) -> Result<bool, Stop> {
        let stored = self
            .counted(&counters.store, || self.sources.smashrun_source(user))
            .await?;
        match stored {
            Some(source) if source.tokens_version > tokens.version => {
                *tokens = Held {
                    set: source.tokens,
                    version: source.tokens_version,
                };
                Ok(true)
            }
            _ => Ok(false),
        }
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
        .when(|e: &E| e.transient())
        .adjust(move |e: &E, backoff| match (backoff, e.retry_after()) {
            (None, _) => None,
            (Some(_), Some(wait)) if wait > max_retry_after => None,
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

fn to_date(d: stk_protocol::IsoDate) -> time::Date {
    time::Month::try_from(d.month())
        .ok()
        .and_then(|m| time::Date::from_calendar_date(i32::from(d.year()), m, d.day()).ok())
        .unwrap_or(time::Date::MIN)
}

fn in_range(job: &Job, date: time::Date) -> bool {
    job.spec.since.is_none_or(|s| date >= to_date(s))
        && job.spec.until.is_none_or(|u| date <= to_date(u))
}

/// A page read into runs.
struct PageRead {
    runs: Vec<Run>,
    /// Activities that could not become runs, all counted...
    rejected: u64,
    /// ...and the first of them listed with their reasons.
    reasons: Vec<stk_protocol::RejectedActivity>,
    oldest: Option<time::Date>,
}

/// The token pair in use and the stored version it came from.
struct Held {
    set: TokenSet,
    version: i64,
}

fn smashrun_stop(e: SmashrunError) -> Stop {
    match e {
        e if e.is_transient() => Stop::Retry(RetryLater::Smashrun(e)),
        SmashrunError::Unauthorized | SmashrunError::InvalidGrant(_) => Stop::Fail {
            code: JobErrorCode::SmashrunAuth,
            message: "SmashRun no longer accepts this account's authorisation: run `stk auth login` to link it again".into(),
        },
        SmashrunError::InvalidClient => Stop::Fail {
            code: JobErrorCode::SmashrunClient,
            message: "SmashRun refused the service's own credentials: the operators have been told; try again later".into(),
        },
        other => Stop::Fail {
            code: JobErrorCode::SmashrunBadAnswer,
            message: format!("SmashRun answered in a way the sync could not use ({other}): try again later"),
        },
    }
}

#[cfg(test)]
mod tests;
