//! The HTTP API's wire contract, compiled into both the server and the `stk` client so that the two
//! cannot drift. Serde only: no I/O, no framework.

mod auth;
mod date;
mod views;

pub use auth::{
    IssuedKey, KeyInfo, KeyPickup, Linked, LoggedOut, LoginPending, LoginPendingStatus,
    LoginSession, LoginSessionRequest, LogoutRequest, ManualCallback, Me, SmashrunLink,
};
pub use date::{DateError, IsoDate};
use serde::{Deserialize, Serialize};
pub use views::{
    CurrentStreak, MonthTotal, MonthlyTotals, Records, RunList, RunSummary, Settings,
    SettingsPatch, Stats, Streak, StreakSummary, WeekTotal,
};

/// Header that carries a client-chosen key making `POST /sync` safe to retry.
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";

/// Body of `POST /sync`. Every field is optional: an empty body asks for an incremental sync.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncRequestBody {
    /// First local date (inclusive) of a range sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<IsoDate>,
    /// Last local date (inclusive) of a range sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<IsoDate>,
    /// Fetch every activity, ignoring the stored cursor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full: Option<bool>,
}

/// What a job will fetch from SmashRun.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncKind {
    /// Everything created or updated since the stored cursor (minus an overlap).
    Incremental,
    /// Runs whose local date falls in `since..=until`.
    Range,
    /// Every activity the account has.
    Full,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    /// Paused until a set time: SmashRun's rate limit, a backoff after a fault, or a hand-over
    /// to the next invocation. `SyncJob::waiting` says until when and why.
    Waiting,
    Succeeded,
    Failed,
}

impl SyncKind {
    pub const ALL: [Self; 3] = [Self::Incremental, Self::Range, Self::Full];

    /// The wire name, as in JSON (and in the jobs table).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Incremental => "incremental",
            Self::Range => "range",
            Self::Full => "full",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl JobStatus {
    pub const ALL: [Self; 5] = [
        Self::Queued,
        Self::Running,
        Self::Waiting,
        Self::Succeeded,
        Self::Failed,
    ];

    /// The wire name, as in JSON (and in the jobs table).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Waiting => "waiting",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    pub fn is_finished(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed)
    }
}

/// Counters a job accumulates page by page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobProgress {
    /// SmashRun pages fetched so far.
    pub pages: u32,
    /// Activities SmashRun returned (before any range filter).
    pub activities_seen: u64,
    pub runs_inserted: u64,
    pub runs_updated: u64,
    pub runs_unchanged: u64,
    /// Runs SmashRun no longer lists, marked deleted.
    #[serde(default)]
    pub runs_deleted: u64,
    /// Runs SmashRun listed that paging did not show, fetched one by one.
    #[serde(default)]
    pub runs_fetched_by_id: u64,
    /// Runs SmashRun's listing left out but which were kept: the listing looked wrong (see
    /// docs/architecture.md, "Deletions").
    #[serde(default, skip_serializing_if = "is_zero")]
    pub deletions_held_back: u64,
    /// Activities that could not be read or were out of bounds (missing id, start, distance or
    /// duration; an impossible date or offset; an absurd distance or duration).
    pub activities_rejected: u64,
    /// Which ones and why: the first [`MAX_REJECTED_LISTED`] of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejected: Vec<RejectedActivity>,
    /// Total SmashRun reports for the account, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_total: Option<u64>,
    /// HTTP requests made to SmashRun, retries included.
    pub smashrun_requests: u64,
    /// Requests made to the run store, retries included.
    pub store_requests: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Why a job failed, as a stable code (`JobError::code` on the wire). The wire keeps a string, so
/// an older client still reads a code a newer server adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobErrorCode {
    /// No SmashRun account is linked to the user.
    NotLinked,
    /// SmashRun no longer accepts the account's authorisation: log in again.
    SmashrunAuth,
    /// SmashRun refused the service's own client credentials.
    SmashrunClient,
    /// SmashRun answered in a way the sync could not use.
    SmashrunBadAnswer,
    /// The run store refused a page.
    StoreRejected,
    /// The stored tokens could not be decrypted.
    TokensUnreadable,
    /// SmashRun kept returning pages past the safety limit.
    TooManyPages,
    /// The job could not be queued.
    QueueUnavailable,
    /// SmashRun's rate limit held through every delivery.
    SmashrunRateLimited,
    /// SmashRun kept failing through every delivery.
    SmashrunUnavailable,
    /// The service's own dependencies kept failing through every delivery.
    ServiceUnavailable,
    /// The worker stopped (crashed or timed out) on every attempt.
    WorkerStopped,
    /// The job's message could not be delivered and reached the dead-letter queue.
    DeadLettered,
}

impl JobErrorCode {
    pub const ALL: [Self; 13] = [
        Self::NotLinked,
        Self::SmashrunAuth,
        Self::SmashrunClient,
        Self::SmashrunBadAnswer,
        Self::StoreRejected,
        Self::TokensUnreadable,
        Self::TooManyPages,
        Self::QueueUnavailable,
        Self::SmashrunRateLimited,
        Self::SmashrunUnavailable,
        Self::ServiceUnavailable,
        Self::WorkerStopped,
        Self::DeadLettered,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::NotLinked => "not_linked",
            Self::SmashrunAuth => "smashrun_auth",
            Self::SmashrunClient => "smashrun_client",
            Self::SmashrunBadAnswer => "smashrun_bad_answer",
            Self::StoreRejected => "store_rejected",
            Self::TokensUnreadable => "tokens_unreadable",
            Self::TooManyPages => "too_many_pages",
            Self::QueueUnavailable => "queue_unavailable",
            Self::SmashrunRateLimited => "smashrun_rate_limited",
            Self::SmashrunUnavailable => "smashrun_unavailable",
            Self::ServiceUnavailable => "service_unavailable",
            Self::WorkerStopped => "worker_stopped",
            Self::DeadLettered => "dead_lettered",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

impl JobError {
    pub fn new(code: JobErrorCode, message: impl Into<String>) -> Self {
        Self {
            code: code.as_str().to_owned(),
            message: message.into(),
        }
    }

    /// The code, when it is one this version knows.
    pub fn known_code(&self) -> Option<JobErrorCode> {
        JobErrorCode::from_name(&self.code)
    }
}

/// Why a job is `waiting`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitReason {
    /// SmashRun's rate limit, or the service's own hourly budget of SmashRun requests.
    RateLimit,
    /// A fault that outlasted the in-place retries: tried again after a backoff.
    Retry,
    /// The worker ran out of time and handed the job to the next invocation.
    Continue,
}

impl WaitReason {
    pub const ALL: [Self; 3] = [Self::RateLimit, Self::Retry, Self::Continue];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::RateLimit => "rate_limit",
            Self::Retry => "retry",
            Self::Continue => "continue",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

/// Until when a `waiting` job waits, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waiting {
    /// RFC 3339: when the job resumes.
    pub until: String,
    pub reason: WaitReason,
}

/// How many rejected activities a job lists (it counts them all).
pub const MAX_REJECTED_LISTED: usize = 20;

/// An activity a sync could not store, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedActivity {
    /// SmashRun's activity id, when the activity had a usable one.
    pub activity_id: Option<String>,
    pub reason: String,
}

/// Why a job failed, in words the runner can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobError {
    pub code: String,
    pub message: String,
}

/// A sync job as `POST /sync`, `GET /sync/{id}` and `GET /sync` report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncJob {
    pub id: String,
    pub status: JobStatus,
    pub kind: SyncKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<IsoDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<IsoDate>,
    /// RFC 3339 timestamps.
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// How many times a worker has picked the job up.
    pub attempts: u32,
    pub progress: JobProgress,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<JobError>,
    /// Set while the job is `waiting`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<Waiting>,
}

/// Body of `GET /sync`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncJobList {
    pub jobs: Vec<SyncJob>,
}

/// Every non-2xx answer carries this body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `unauthorized`, `invalid_body`, `not_found`, ...
    pub code: String,
    /// Human-readable, safe to show; never contains internals.
    pub message: String,
    /// Quote it when reporting a problem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names written by hand equal serde's, for every variant.
    #[test]
    fn the_vocabulary_is_spelled_once() {
        for status in JobStatus::ALL {
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
            assert_eq!(JobStatus::from_name(status.as_str()), Some(status));
        }
        for kind in SyncKind::ALL {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
            assert_eq!(SyncKind::from_name(kind.as_str()), Some(kind));
        }
        for reason in WaitReason::ALL {
            assert_eq!(serde_json::to_value(reason).unwrap(), reason.as_str());
            assert_eq!(WaitReason::from_name(reason.as_str()), Some(reason));
        }
        let names: std::collections::HashSet<_> =
            JobErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), JobErrorCode::ALL.len());
        for code in JobErrorCode::ALL {
            assert_eq!(JobError::new(code, "m").known_code(), Some(code));
        }
        assert_eq!(JobStatus::from_name("paused"), None);
    }

    #[test]
    fn sync_request_rejects_unknown_fields() {
        let err = serde_json::from_str::<SyncRequestBody>(r#"{"fulll": true}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `fulll`"), "{err}");
    }

    #[test]
    fn sync_request_rejects_impossible_dates() {
        let err =
            serde_json::from_str::<SyncRequestBody>(r#"{"since": "2023-02-29"}"#).unwrap_err();
        assert!(err.to_string().contains("2023-02-29"), "{err}");
    }

    #[test]
    fn empty_body_is_an_incremental_request() {
        let body: SyncRequestBody = serde_json::from_str("{}").unwrap();
        assert_eq!(body, SyncRequestBody::default());
    }

    #[test]
    fn job_round_trips_with_optional_fields_omitted() {
        let job = SyncJob {
            id: "j".into(),
            status: JobStatus::Queued,
            kind: SyncKind::Incremental,
            since: None,
            until: None,
            created_at: "2026-01-01T00:00:00Z".into(),
            started_at: None,
            finished_at: None,
            attempts: 0,
            progress: JobProgress::default(),
            error: None,
            waiting: None,
        };
        let json = serde_json::to_value(&job).unwrap();
        assert!(json.get("error").is_none());
        assert_eq!(json["status"], "queued");
        assert_eq!(serde_json::from_value::<SyncJob>(json).unwrap(), job);
    }
}
