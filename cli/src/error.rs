//! The CLI's errors and the one place that maps them to exit codes ([`crate::exit`]).

use std::fmt;
use std::io;
use std::time::Duration;

use crate::config::{ConfigError, KeySource};
use crate::exit::Exit;

/// Environment variables, shown after the exit codes at the end of `stk --help`.
const ENVIRONMENT_HELP: &str = "\
Environment:
  API_BASE_URL          the API's address (also read from ./.env)
  STK_API_KEY           API key to use instead of the one in the config file
  STK_CONFIG_DIR        config directory (default: $XDG_CONFIG_HOME/stk or ~/.config/stk)
  STK_POLL_INTERVAL_MS  how often --wait asks for progress, in milliseconds
  STK_UNITS             mi or km (overrides `units` in config.json)
  NO_COLOR              set to anything to turn colour off
  COLUMNS               the width tables are fitted to (default: the terminal's, else 80)
  TZ                    this machine's time zone, offered by `stk config set timezone`";

/// The text at the end of `stk --help`: the exit codes, then the environment.
pub fn after_help() -> String {
    format!("{}\n{ENVIRONMENT_HELP}", crate::exit::help_table())
}

/// Everything that can end a command early.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Arguments that parse but do not make sense together. Printed by clap.
    #[error(transparent)]
    Usage(Box<clap::Error>),

    #[error(transparent)]
    Config(#[from] ConfigError),

    #[error("{}{}", unauthorized_message(.key_source), RequestId(.request_id))]
    Unauthorized {
        key_source: KeySource,
        request_id: Option<String>,
    },

    #[error("no sync job {id} for this account{}", RequestId(.request_id))]
    JobNotFound {
        id: String,
        request_id: Option<String>,
    },

    #[error("no sync jobs yet: start one with `stk sync`")]
    NoJobs,

    /// Any other 4xx.
    #[error("{message}{}", RequestId(.request_id))]
    Refused {
        status: u16,
        message: String,
        request_id: Option<String>,
    },

    /// A 5xx (or an unexpected status such as a redirect).
    #[error("{message}{}", RequestId(.request_id))]
    ServerFailed {
        status: u16,
        message: String,
        request_id: Option<String>,
    },

    #[error(
        "could not reach the API at {url}: {cause}: check API_BASE_URL and your network connection"
    )]
    Unreachable {
        url: String,
        cause: String,
        #[source]
        source: reqwest::Error,
    },

    #[error("the API did not answer {what} in time: try again in a moment")]
    Timeout {
        what: String,
        #[source]
        source: reqwest::Error,
    },

    #[error(
        "could not read the API's answer to {what}: {cause}: check that API_BASE_URL points at the stk API"
    )]
    BadAnswer { what: String, cause: String },

    #[error("sync failed: {message} ({code})")]
    JobFailed {
        id: String,
        code: String,
        message: String,
    },

    #[error("stopped waiting after {} s of failed attempts: {last}\nthe sync keeps running on the server: follow it later with: stk sync status {id} --wait", .waited.as_secs())]
    GaveUp {
        id: String,
        waited: Duration,
        last: Box<CliError>,
    },

    #[error(
        "stopped waiting: sync {id} keeps running on the server\nfollow it with: stk sync status {id} --wait"
    )]
    Interrupted { id: String },

    #[error(
        "sync {id} has made no progress for {} s: its worker may have stopped\nresume it from where it stopped with: stk sync",
        .still.as_secs()
    )]
    Stalled { id: String, still: Duration },

    #[error("the login was not finished in time: run `stk auth login` again")]
    LoginExpired,

    #[error("login cancelled: nothing was saved")]
    LoginCancelled,

    #[error("could not write the output: {0}")]
    Output(#[source] io::Error),

    #[error("could not start the async runtime: {0}")]
    Runtime(#[source] io::Error),

    /// Stdout was closed by its reader: not an error, exit quietly.
    #[error("broken pipe")]
    BrokenPipe,
}

impl From<clap::Error> for CliError {
    fn from(err: clap::Error) -> Self {
        Self::Usage(Box::new(err))
    }
}

impl CliError {
    /// The process exit code for this error: the only place where errors are mapped to codes.
    pub fn exit_code(&self) -> Exit {
        match self {
            Self::BrokenPipe => Exit::Success,
            Self::JobFailed { .. } => Exit::JobFailed,
            Self::Output(_) | Self::Runtime(_) => Exit::Local,
            Self::Usage(_) => Exit::Usage,
            Self::Config(_) => Exit::Config,
            Self::Unauthorized { .. }
            | Self::JobNotFound { .. }
            | Self::NoJobs
            | Self::LoginExpired
            | Self::Refused { .. } => Exit::Refused,
            Self::ServerFailed { .. }
            | Self::Stalled { .. }
            | Self::Unreachable { .. }
            | Self::Timeout { .. }
            | Self::BadAnswer { .. } => Exit::Unavailable,
            Self::GaveUp { last, .. } => last.exit_code(),
            Self::Interrupted { .. } | Self::LoginCancelled => Exit::Interrupted,
        }
    }

    /// Worth retrying while waiting for a job: the API or the network may recover.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::ServerFailed { .. } | Self::Unreachable { .. } | Self::Timeout { .. } => true,
            Self::Refused { status, .. } => *status == 429,
            _ => false,
        }
    }

    /// Maps a write error on stdout: a closed pipe is a quiet success.
    pub fn from_output(err: io::Error) -> Self {
        if err.kind() == io::ErrorKind::BrokenPipe {
            Self::BrokenPipe
        } else {
            Self::Output(err)
        }
    }
}

fn unauthorized_message(source: &KeySource) -> &'static str {
    match source {
        KeySource::File(_) => {
            "the API key was refused: run `stk auth login` (or check STK_CONFIG_DIR)"
        }
        KeySource::Env => {
            "the API key in STK_API_KEY was refused: check it, or unset it and run `stk auth login`"
        }
    }
}

/// Displays ` (request id X)` when the API gave one, nothing otherwise.
struct RequestId<'a>(&'a Option<String>);

impl fmt::Display for RequestId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(id) => write!(f, " (request id {})", crate::render::clean(id)),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_by_kind() {
        assert_eq!(CliError::NoJobs.exit_code(), Exit::Refused);
        assert_eq!(
            CliError::Config(ConfigError::NotLoggedIn {
                url: "https://api.example.com".into(),
                unbound_key: false
            })
            .exit_code(),
            Exit::Config
        );
        assert_eq!(CliError::BrokenPipe.exit_code(), Exit::Success);
        let output = CliError::from_output(io::Error::other("disk full"));
        assert_eq!(output.exit_code(), Exit::Local);
        let server = CliError::ServerFailed {
            status: 503,
            message: "down".into(),
            request_id: None,
        };
        assert!(server.is_transient());
        assert_eq!(server.exit_code(), Exit::Unavailable);
        let gave_up = CliError::GaveUp {
            id: "j".into(),
            waited: Duration::from_secs(30),
            last: Box::new(server),
        };
        assert_eq!(gave_up.exit_code(), Exit::Unavailable);
        let failed = CliError::JobFailed {
            id: "j".into(),
            code: "smashrun_auth".into(),
            message: "SmashRun refused".into(),
        };
        assert_eq!(failed.exit_code(), Exit::JobFailed);
        assert_eq!(
            failed.to_string(),
            "sync failed: SmashRun refused (smashrun_auth)"
        );
        assert_eq!(
            CliError::Interrupted { id: "j".into() }.exit_code(),
            Exit::Interrupted
        );
    }

    #[test]
    fn request_id_is_quoted_when_present() {
        let err = CliError::Refused {
            status: 422,
            message: "`since` is after `until`".into(),
            request_id: Some("req-1".into()),
        };
        assert_eq!(
            err.to_string(),
            "`since` is after `until` (request id req-1)"
        );
        assert_eq!(err.exit_code(), Exit::Refused);
        assert!(!err.is_transient());
        let err = CliError::Unauthorized {
            key_source: KeySource::File("/x/config.json".into()),
            request_id: None,
        };
        assert_eq!(
            err.to_string(),
            "the API key was refused: run `stk auth login` (or check STK_CONFIG_DIR)"
        );
    }
}
