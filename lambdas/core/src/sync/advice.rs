//! How a delivery ends, in one place: which failures wait and which fail the job, and what the
//! runner is told to do about it.

use std::time::Duration;

use stk_protocol::{JobErrorCode, WaitReason};
use time::OffsetDateTime;

use super::{MAX_HIDDEN, SyncEngine};
use crate::error::{JobStoreError, QueueError, SmashrunError, StoreError};
use crate::job::Job;

/// A dependency that failed past the in-delivery retries.
#[derive(Debug, thiserror::Error)]
pub enum Fault {
    #[error("smashrun is unavailable")]
    Smashrun(#[source] SmashrunError),
    #[error("the run store is unavailable")]
    Store(#[source] StoreError),
    #[error("the job table is unavailable")]
    Jobs(#[source] JobStoreError),
    #[error("the job queue is unavailable")]
    Queue(#[source] QueueError),
}

/// Why a step stopped the job's run.
#[derive(Debug)]
pub(super) enum Stop {
    /// Give the job up with a message for the runner.
    Fail { code: JobErrorCode, message: String },
    /// A dependency failed: wait with backoff, or fail once faults are too many.
    Fault(Fault),
    /// Pause until `until`; never counted as a failure.
    Wait {
        until: OffsetDateTime,
        reason: WaitReason,
    },
    /// Another worker took the job over; it will finish it.
    LeaseLost,
}

/// What [`SyncEngine::advice`] decided.
#[derive(Debug)]
pub(super) enum Ending {
    Fail {
        code: JobErrorCode,
        message: String,
    },
    Wait {
        until: OffsetDateTime,
        reason: WaitReason,
    },
    LeaseLost,
}

/// A delivery whose message should come back later (reported to SQS as a batch item failure
/// after its visibility is set to [`RetryLater::hidden_for`]).
#[derive(Debug, thiserror::Error)]
pub enum RetryLater {
    /// Another worker holds the job, or it waits: not before `until`.
    #[error("the job is held by another worker or waits")]
    NotYet { until: Option<OffsetDateTime> },
    /// The job was written down as waiting until `until`.
    #[error("the job waits ({})", reason.as_str())]
    Waiting {
        until: OffsetDateTime,
        reason: WaitReason,
    },
    /// Nothing could be written down (the job table or the queue failed).
    #[error("the delivery could not be recorded")]
    Unrecorded(#[source] Fault),
}

impl RetryLater {
    pub fn fault(fault: Fault) -> Self {
        Self::Unrecorded(fault)
    }

    /// How long the message should stay hidden from `now`: until the job can be taken again,
    /// or, when nothing could be recorded, a backoff on the receive count.
    pub fn hidden_for(&self, now: OffsetDateTime, receives: u32) -> Duration {
        let until = match self {
            Self::NotYet { until: Some(until) } | Self::Waiting { until, .. } => *until,
            Self::NotYet { until: None } => now + time::Duration::seconds(30),
            Self::Unrecorded(_) => {
                let shift = receives.saturating_sub(1).min(6);
                return Duration::from_secs(10 << shift).min(MAX_HIDDEN);
            }
        };
        // A second past the lease's end, so the claim finds it lapsed.
        let wait = (until - now).whole_seconds().max(0) as u64 + 1;
        Duration::from_secs(wait).min(MAX_HIDDEN)
    }
}

impl From<JobStoreError> for Stop {
    fn from(e: JobStoreError) -> Self {
        match e {
            JobStoreError::Conflict => Stop::LeaseLost,
            other => Stop::Fault(Fault::Jobs(other)),
        }
    }
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Self {
        if e.is_transient() {
            return Stop::Fault(Fault::Store(e));
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

impl SyncEngine {
    /// A SmashRun failure past the in-place retries. A rate limit waits for as long as
    /// SmashRun said, or else until the budget hour that is running out ends.
    pub(super) fn smashrun_stop(&self, e: SmashrunError, job: &Job) -> Stop {
        match e {
            SmashrunError::RateLimited { retry_after } => {
                let now = self.clock.now();
                let until = match retry_after {
                    Some(wait) => now + wait,
                    None => self.budget_renews(job, now),
                };
                Stop::Wait {
                    until,
                    reason: WaitReason::RateLimit,
                }
            }
            e if e.is_transient() => Stop::Fault(Fault::Smashrun(e)),
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

    /// Decides how a stopped run ends: a fault waits out a doubling backoff until the job has
    /// had `max_failures` of them (crashes included), then fails it with advice.
    pub(super) fn advice(&self, job: &mut Job, stop: Stop, now: OffsetDateTime) -> Ending {
        match stop {
            Stop::Fail { code, message } => Ending::Fail { code, message },
            Stop::LeaseLost => Ending::LeaseLost,
            Stop::Wait { until, reason } => Ending::Wait {
                until: until.min(now + self.settings.max_wait),
                reason,
            },
            Stop::Fault(fault) => {
                job.failures += 1;
                tracing::warn!(error = %crate::error::chain(&fault), failures = job.failures, "delivery failed");
                if job.failures >= self.settings.max_failures {
                    let (code, message) = give_up(&fault);
                    return Ending::Fail {
                        code,
                        message: message.to_owned(),
                    };
                }
                let shift = (job.failures - 1).min(10);
                let backoff = self
                    .settings
                    .fault_backoff
                    .saturating_mul(1 << shift)
                    .min(self.settings.max_fault_backoff);
                Ending::Wait {
                    until: now + backoff,
                    reason: WaitReason::Retry,
                }
            }
        }
    }
}

fn give_up(fault: &Fault) -> (JobErrorCode, &'static str) {
    match fault {
        Fault::Smashrun(_) => (
            JobErrorCode::SmashrunUnavailable,
            "SmashRun kept failing: run `stk sync` again later; runs synced so far are kept and it continues from there",
        ),
        Fault::Store(_) | Fault::Jobs(_) | Fault::Queue(_) => (
            JobErrorCode::ServiceUnavailable,
            "the service kept failing: run `stk sync` again later; runs synced so far are kept and it continues from there",
        ),
    }
}
