//! The sync job: what was asked for, where it stands, and the rules for moving it on.

use serde::{Deserialize, Serialize};
use stk_protocol::{
    IsoDate, JobError, JobProgress, JobStatus, SyncJob, SyncKind, SyncRequestBody, WaitReason,
    Waiting,
};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::ids::{JobId, UserId};

/// A validated sync request. Past this type, `since <= until` and `full` has no range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncSpec {
    pub kind: SyncKind,
    pub since: Option<IsoDate>,
    pub until: Option<IsoDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncRequestError {
    #[error("`since` ({since}) is after `until` ({until}): swap them or drop one")]
    SinceAfterUntil { since: IsoDate, until: IsoDate },
    #[error("a full sync takes no date range: send either `full` or `since`/`until`")]
    FullWithRange,
}

impl SyncSpec {
    pub fn parse(body: SyncRequestBody) -> Result<Self, SyncRequestError> {
        let full = body.full.unwrap_or(false);
        if let (Some(since), Some(until)) = (body.since, body.until)
            && since > until
        {
            return Err(SyncRequestError::SinceAfterUntil { since, until });
        }
        let ranged = body.since.is_some() || body.until.is_some();
        let kind = match (full, ranged) {
            (true, true) => return Err(SyncRequestError::FullWithRange),
            (true, false) => SyncKind::Full,
            (false, true) => SyncKind::Range,
            (false, false) => SyncKind::Incremental,
        };
        Ok(Self {
            kind,
            since: body.since,
            until: body.until,
        })
    }

    pub fn incremental() -> Self {
        Self {
            kind: SyncKind::Incremental,
            since: None,
            until: None,
        }
    }
}

/// The message put on the queue: only ids, so nothing stale or secret travels through SQS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobMessage {
    pub job_id: JobId,
    pub user_id: UserId,
}

/// A nightly sync to start: the worker creates its job when it takes the message, so the
/// scheduler's work per user is one tenth of a `SendMessageBatch` (see docs/adr/0007).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduledSync {
    pub user_id: UserId,
    /// The night it is for: with the user, the job's idempotency key.
    pub night: IsoDate,
}

impl ScheduledSync {
    pub fn idempotency_key(&self) -> String {
        format!("nightly-{}", self.night)
    }
}

/// Up to [`CHUNK_USERS`] nightly syncs in one message: the scheduler sends these, and a worker
/// fans each out into one [`ScheduledSync`] per user, so the scheduler's time grows with the
/// number of users divided by a thousand (see docs/adr/0007).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduledChunk {
    pub users: Vec<UserId>,
    pub night: IsoDate,
}

/// Users per [`ScheduledChunk`]: about 4 KB of ids, well under SQS's message size limit.
pub const CHUNK_USERS: usize = 100;

/// Everything the worker's queue carries. Each kind has its own set of fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum QueueMessage {
    Job(JobMessage),
    Scheduled(ScheduledSync),
    Chunk(ScheduledChunk),
}

/// A message for the queue and how long the queue keeps it back first (SQS: 15 minutes at most).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub message: QueueMessage,
    pub delay: std::time::Duration,
}

impl Outgoing {
    /// Deliverable at once.
    pub fn now(message: QueueMessage) -> Self {
        Self {
            message,
            delay: std::time::Duration::ZERO,
        }
    }
}

/// The longest delay SQS allows on a message, and so the widest nightly spread.
pub const MAX_QUEUE_DELAY: std::time::Duration = std::time::Duration::from_secs(900);

/// How long after the nightly run a user's sync starts, within `window`: the same offset every
/// night (a hash of the user id), so the load is flat across the window and a runner's sync
/// time is predictable.
pub fn nightly_delay(user: UserId, window: std::time::Duration) -> std::time::Duration {
    use sha2::{Digest, Sha256};
    let window = window.min(MAX_QUEUE_DELAY).as_secs();
    if window == 0 {
        return std::time::Duration::ZERO;
    }
    let digest = Sha256::digest(user.as_uuid().as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    std::time::Duration::from_secs(u64::from_le_bytes(first) % (window + 1))
}

/// Who holds a running job, and until when. A worker that crashes loses its lease by time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub owner: String,
    pub until: OffsetDateTime,
}

/// Where a job resumes after a crash or a redelivery.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Next SmashRun page to fetch.
    pub next_page: u32,
    /// The `fromDateUTC` this job asks with, fixed at its first start so pages stay stable.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub from_utc: Option<OffsetDateTime>,
    /// The cursor to store when the job succeeds: the instant it first started.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub cursor_candidate: Option<OffsetDateTime>,
    /// SmashRun requests spent in the current budget hour, which began at `budget_since`.
    #[serde(default)]
    pub budget_used: u32,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub budget_since: Option<OffsetDateTime>,
    /// Every page has landed: what is left is reconciling against the listing.
    #[serde(default)]
    pub paging_done: bool,
    /// Runs read from pages (valid and in range), for the count of unchanged ones.
    #[serde(default)]
    pub runs_read: u64,
}

/// A checkpoint kept on the SmashRun source, written in the same transaction as each page's
/// runs: it outlives its job, so a sync that failed or was abandoned is continued by the next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceCheckpoint {
    pub job_id: JobId,
    pub kind: SyncKind,
    #[serde(with = "time::serde::rfc3339")]
    pub saved_at: OffsetDateTime,
    pub checkpoint: Checkpoint,
    pub progress: JobProgress,
}

/// A source checkpoint older than this is not continued: a fresh start costs little next to
/// the doubt about what changed upstream in between.
pub const SOURCE_CHECKPOINT_TTL: time::Duration = time::Duration::days(7);

impl SourceCheckpoint {
    /// The checkpoint of runs loaded outside any sync: a range's, which no sync continues.
    pub fn bulk_load(job_id: JobId, now: OffsetDateTime) -> Self {
        Self {
            job_id,
            kind: SyncKind::Range,
            saved_at: now,
            checkpoint: Checkpoint::default(),
            progress: JobProgress::default(),
        }
    }

    /// Whether a new job of `kind` (with `cursor` stored on the source) may carry on from here:
    /// it asks SmashRun the same question the checkpoint's job asked.
    pub fn continues(
        &self,
        kind: SyncKind,
        cursor: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> bool {
        let fresh = now - self.saved_at < SOURCE_CHECKPOINT_TTL;
        let same_question = match (self.kind, kind) {
            (SyncKind::Full, SyncKind::Full) => true,
            // An incremental sync with no cursor yet pages the whole history, as a full one does.
            (SyncKind::Full | SyncKind::Incremental, SyncKind::Incremental) => {
                cursor.is_none() && self.checkpoint.from_utc.is_none()
                    || self.kind == SyncKind::Incremental
                        && self.checkpoint.from_utc.is_some()
                        && cursor.is_some()
            }
            _ => false,
        };
        fresh && same_question && self.checkpoint.cursor_candidate.is_some()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: JobId,
    pub user_id: UserId,
    pub spec: SyncSpec,
    pub status: JobStatus,
    pub created_at: OffsetDateTime,
    pub started_at: Option<OffsetDateTime>,
    pub finished_at: Option<OffsetDateTime>,
    /// Last time a worker wrote the job down: a job that goes quiet for long is stalled.
    pub updated_at: OffsetDateTime,
    pub attempts: u32,
    /// Deliveries that ended in a fault or a crash (not those that waited or handed over):
    /// the job fails when they reach the engine's `max_failures`.
    pub failures: u32,
    pub lease: Option<Lease>,
    /// While `waiting`: until when, and why. The lease lasts as long, so no worker claims the
    /// job earlier.
    pub waiting: Option<(OffsetDateTime, WaitReason)>,
    pub checkpoint: Checkpoint,
    pub progress: JobProgress,
    pub error: Option<JobError>,
}

/// How long an unfinished job may go without a word from a worker before it counts as stalled:
/// the next `POST /sync` then queues it again. Leases are two minutes and renewed every few
/// seconds, and every wait is written down with its end, so a live job is never this quiet.
pub const STALLED_AFTER: time::Duration = time::Duration::minutes(10);

/// An unfinished job that has been stalled this long no longer blocks a new one.
pub const ABANDONED_AFTER: time::Duration = time::Duration::days(1);

impl Job {
    pub fn new(user_id: UserId, spec: SyncSpec, now: OffsetDateTime) -> Self {
        Self {
            id: JobId::random(),
            user_id,
            spec,
            status: JobStatus::Queued,
            created_at: now,
            started_at: None,
            finished_at: None,
            updated_at: now,
            attempts: 0,
            failures: 0,
            lease: None,
            waiting: None,
            checkpoint: Checkpoint::default(),
            progress: JobProgress::default(),
            error: None,
        }
    }

    /// Whether a worker may take the job now: queued, or running or waiting under a lease that
    /// has lapsed.
    pub fn claimable(&self, now: OffsetDateTime) -> bool {
        match self.status {
            JobStatus::Queued => true,
            JobStatus::Running | JobStatus::Waiting => {
                self.lease.as_ref().is_none_or(|l| l.until <= now)
            }
            JobStatus::Succeeded | JobStatus::Failed => false,
        }
    }

    /// When the job may be claimed (now, if it may).
    pub fn claimable_at(&self) -> Option<OffsetDateTime> {
        self.lease.as_ref().map(|l| l.until)
    }

    /// The instant after which silence means the job is stalled: the end of its lease or wait,
    /// or its last write, whichever is later.
    fn quiet_since(&self) -> OffsetDateTime {
        let lease = self.lease.as_ref().map(|l| l.until);
        lease.map_or(self.updated_at, |l| l.max(self.updated_at))
    }

    /// No worker has it and none will come for it by itself: its message was lost, dead-lettered
    /// or is waiting out a backoff the queue forgot.
    pub fn stalled(&self, now: OffsetDateTime) -> bool {
        !self.status.is_finished() && now - self.quiet_since() > STALLED_AFTER
    }

    /// Stalled for so long that it no longer holds the user's active slot.
    pub fn abandoned(&self, now: OffsetDateTime) -> bool {
        !self.status.is_finished() && now - self.quiet_since() > ABANDONED_AFTER
    }

    pub fn to_protocol(&self) -> SyncJob {
        SyncJob {
            id: self.id.to_string(),
            status: self.status,
            kind: self.spec.kind,
            since: self.spec.since,
            until: self.spec.until,
            created_at: rfc3339(self.created_at),
            started_at: self.started_at.map(rfc3339),
            finished_at: self.finished_at.map(rfc3339),
            attempts: self.attempts,
            progress: self.progress.clone(),
            error: self.error.clone(),
            waiting: self.waiting.map(|(until, reason)| Waiting {
                until: rfc3339(until),
                reason,
            }),
        }
    }
}

/// A calendar date in the protocol's form (`None` before year 1 or after 9999).
pub fn iso_date(d: time::Date) -> Option<IsoDate> {
    IsoDate::new(u16::try_from(d.year()).ok()?, u8::from(d.month()), d.day()).ok()
}

pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn body(since: Option<&str>, until: Option<&str>, full: Option<bool>) -> SyncRequestBody {
        SyncRequestBody {
            since: since.map(|s| s.parse().unwrap()),
            until: until.map(|s| s.parse().unwrap()),
            full,
        }
    }

    #[test]
    fn kinds_follow_the_body() {
        assert_eq!(
            SyncSpec::parse(body(None, None, None)).unwrap().kind,
            SyncKind::Incremental
        );
        assert_eq!(
            SyncSpec::parse(body(None, None, Some(true))).unwrap().kind,
            SyncKind::Full
        );
        assert_eq!(
            SyncSpec::parse(body(Some("2024-01-01"), None, Some(false)))
                .unwrap()
                .kind,
            SyncKind::Range
        );
    }

    #[test]
    fn rejects_inverted_ranges_and_full_with_range() {
        assert!(matches!(
            SyncSpec::parse(body(Some("2024-02-02"), Some("2024-02-01"), None)),
            Err(SyncRequestError::SinceAfterUntil { .. })
        ));
        assert_eq!(
            SyncSpec::parse(body(Some("2024-02-02"), None, Some(true))),
            Err(SyncRequestError::FullWithRange)
        );
        assert!(SyncSpec::parse(body(Some("2024-02-02"), Some("2024-02-02"), None)).is_ok());
    }

    #[test]
    fn running_jobs_are_claimable_only_after_their_lease() {
        let now = datetime!(2026-01-01 12:00 UTC);
        let mut job = Job::new(UserId::new(uuid::Uuid::nil()), SyncSpec::incremental(), now);
        assert!(job.claimable(now));
        job.status = JobStatus::Running;
        job.lease = Some(Lease {
            owner: "w".into(),
            until: now + time::Duration::minutes(1),
        });
        assert!(!job.claimable(now));
        assert!(job.claimable(now + time::Duration::minutes(1)));
        job.status = JobStatus::Succeeded;
        assert!(!job.claimable(now + time::Duration::hours(1)));
    }

    #[test]
    fn nightly_delays_are_stable_per_user_and_spread_over_the_window() {
        let window = std::time::Duration::from_secs(900);
        let users: Vec<UserId> = (0..2_000u128)
            .map(|i| UserId::new(uuid::Uuid::from_u128(i * 7_919 + 1)))
            .collect();
        let delays: Vec<u64> = users
            .iter()
            .map(|&u| nightly_delay(u, window).as_secs())
            .collect();
        assert!(delays.iter().all(|&d| d <= 900));
        assert_eq!(
            nightly_delay(users[0], window),
            nightly_delay(users[0], window)
        );
        // Flat: every tenth of the window gets a tenth of the users, give or take.
        for tenth in 0..10 {
            let n = delays.iter().filter(|&&d| d * 10 / 901 == tenth).count();
            assert!((120..=280).contains(&n), "tenth {tenth}: {n}");
        }
        assert_eq!(
            nightly_delay(users[0], std::time::Duration::ZERO).as_secs(),
            0
        );
        assert!(nightly_delay(users[1], std::time::Duration::from_secs(86_400)) <= MAX_QUEUE_DELAY);
    }
}
