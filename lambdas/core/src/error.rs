use std::time::Duration;

/// The underlying cause of an adapter failure, kept whole for the log.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What talking to SmashRun can go wrong with, sorted by what the caller should do about it.
#[derive(Debug, thiserror::Error)]
pub enum SmashrunError {
    #[error("smashrun refused the access token")]
    Unauthorized,
    #[error("smashrun refused the refresh token or code ({0}): the account must be linked again")]
    InvalidGrant(String),
    #[error("smashrun refused the application's client credentials: check the smashrun secret")]
    InvalidClient,
    #[error("smashrun rate limit reached")]
    RateLimited { retry_after: Option<Duration> },
    #[error("smashrun answered {status}")]
    Server { status: u16 },
    #[error("smashrun rejected the request with {status}")]
    Rejected { status: u16 },
    #[error("could not reach smashrun")]
    Transport(#[source] BoxError),
    #[error("smashrun answered with a body that could not be read: {0}")]
    Malformed(String),
}

impl SmashrunError {
    /// Worth trying again in a moment: the same request may well succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. } | Self::Server { .. } | Self::Transport(_)
        )
    }
}

/// Failures of the run store (Supabase through PostgREST) and of token handling.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the run store is unavailable")]
    Unavailable(#[source] BoxError),
    #[error("the run store rejected the request ({status}, {code})")]
    Rejected { status: u16, code: String },
    #[error("the run store answered with a body that could not be read: {0}")]
    Malformed(String),
    #[error("stored smashrun tokens could not be decrypted: the token key may have changed")]
    Decrypt,
    #[error("could not read the store's credentials")]
    Credentials(#[source] BoxError),
}

impl StoreError {
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::Credentials(_))
    }
}

/// Failures of the job table.
#[derive(Debug, thiserror::Error)]
pub enum JobStoreError {
    #[error("the job table is unavailable")]
    Unavailable(#[source] BoxError),
    /// A conditional write lost: another worker holds the job or it has moved on.
    #[error("the job changed under us: another worker holds it or it has finished")]
    Conflict,
    #[error("a job record could not be read: {0}")]
    Corrupt(String),
}

/// Failures of the job queue.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("the job queue is unavailable")]
    Unavailable(#[source] BoxError),
}

/// An error and all its causes on one line, for logs (never for clients).
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}
