//! Command-line arguments (clap derive) and the checks clap cannot express.

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::NonEmptyStringValueParser;
use clap::error::ErrorKind;
use clap::{ArgAction, Args, CommandFactory, Parser, Subcommand};
use stk_protocol::{IsoDate, SyncRequestBody};

use crate::error::EXIT_CODES_HELP;

/// MyRunStreak: pull your SmashRun runs into your own database, through the MyRunStreak API.
#[derive(Debug, Parser)]
#[command(name = "stk", version, after_help = EXIT_CODES_HELP, arg_required_else_help = true)]
pub struct Cli {
    /// The API's base URL, e.g. https://abc123.execute-api.eu-west-1.amazonaws.com/prod
    #[arg(long, global = true, env = "API_BASE_URL", value_name = "URL")]
    pub api_url: Option<String>,

    /// Directory holding config.json [default: $XDG_CONFIG_HOME/stk, else ~/.config/stk]
    #[arg(long, global = true, env = "STK_CONFIG_DIR", value_name = "DIR")]
    pub config_dir: Option<PathBuf>,

    /// Print debug output (requests, timings) on stderr; repeat for more
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sync your SmashRun activities into your run store, and follow sync jobs
    Sync(SyncCommand),
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, after_help = SYNC_HELP)]
pub struct SyncCommand {
    #[command(subcommand)]
    pub action: Option<SyncAction>,

    #[command(flatten)]
    pub start: StartArgs,
}

const SYNC_HELP: &str = "\
Without options, fetches what is new or changed on SmashRun since the last sync.
The sync runs on the server: `stk sync` returns as soon as it is queued, unless --wait.";

#[derive(Debug, Subcommand)]
pub enum SyncAction {
    /// Show a sync job (default: your most recent one)
    Status(StatusArgs),
    /// List your recent sync jobs, newest first
    List(ListArgs),
}

/// `stk sync [--since DATE] [--until DATE] [--full] [--wait] [--json]`
#[derive(Debug, Args)]
pub struct StartArgs {
    /// Sync only runs on or after this local date (YYYY-MM-DD)
    #[arg(long, value_name = "DATE")]
    pub since: Option<IsoDate>,

    /// Sync only runs on or before this local date (YYYY-MM-DD)
    #[arg(long, value_name = "DATE")]
    pub until: Option<IsoDate>,

    /// Fetch every activity, not only what changed (also notices runs deleted on SmashRun)
    #[arg(long, conflicts_with_all = ["since", "until"])]
    pub full: bool,

    #[command(flatten)]
    pub wait: WaitArgs,

    /// Print the job as JSON on stdout (with --wait: only the finished job)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The job's id [default: your most recent sync]
    #[arg(value_name = "JOB_ID", value_parser = NonEmptyStringValueParser::new())]
    pub job_id: Option<String>,

    #[command(flatten)]
    pub wait: WaitArgs,

    /// Print the job as JSON on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print the list as JSON on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, Args)]
pub struct WaitArgs {
    /// Wait for the job to finish, showing its progress
    #[arg(long)]
    pub wait: bool,

    /// How often to ask for progress while waiting, in milliseconds
    #[arg(
        long,
        value_name = "MS",
        env = "STK_POLL_INTERVAL_MS",
        default_value_t = 500,
        value_parser = clap::value_parser!(u64).range(10..=60_000)
    )]
    pub poll_interval: u64,
}

impl WaitArgs {
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval)
    }
}

impl StartArgs {
    /// The request body, after the checks clap's attributes cannot make.
    pub fn request_body(&self) -> Result<SyncRequestBody, clap::Error> {
        if let (Some(since), Some(until)) = (self.since, self.until) {
            if since > until {
                return Err(sync_usage_error(
                    ErrorKind::ArgumentConflict,
                    format!("--since {since} is after --until {until}: swap the dates"),
                ));
            }
        }
        Ok(SyncRequestBody {
            since: self.since,
            until: self.until,
            full: self.full.then_some(true),
        })
    }
}

/// A usage error shown like clap's own, with the usage of `stk sync`.
fn sync_usage_error(kind: ErrorKind, message: String) -> clap::Error {
    let mut command = Cli::command();
    command.build();
    match command.find_subcommand_mut("sync") {
        Some(sync) => sync.error(kind, message),
        None => command.error(kind, message),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("stk").chain(args.iter().copied()))
    }

    fn start_args(args: &[&str]) -> StartArgs {
        match parse(args).unwrap().command {
            Command::Sync(SyncCommand {
                action: None,
                start,
            }) => start,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn plain_sync_is_an_empty_body() {
        let args = start_args(&["sync"]);
        assert_eq!(args.request_body().unwrap(), SyncRequestBody::default());
        assert!(!args.wait.wait);
        assert_eq!(args.wait.poll_interval(), Duration::from_millis(500));
    }

    #[test]
    fn range_and_full_bodies() {
        let body = start_args(&["sync", "--since", "2024-01-01", "--until", "2024-02-29"])
            .request_body()
            .unwrap();
        assert_eq!(body.since, "2024-01-01".parse().ok());
        assert_eq!(body.until, "2024-02-29".parse().ok());
        assert_eq!(body.full, None);

        let body = start_args(&["sync", "--full", "--wait", "--json"])
            .request_body()
            .unwrap();
        assert_eq!(body.full, Some(true));
        // Same day on both ends is a one-day range.
        assert!(
            start_args(&["sync", "--since", "2024-01-01", "--until", "2024-01-01"])
                .request_body()
                .is_ok()
        );
    }

    #[test]
    fn impossible_dates_are_usage_errors() {
        let err = parse(&["sync", "--since", "2023-02-29"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ValueValidation);
        assert!(err.to_string().contains("2023-02-29"), "{err}");
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn since_after_until_is_a_usage_error() {
        let err = start_args(&["sync", "--since", "2024-03-01", "--until", "2024-02-01"])
            .request_body()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ArgumentConflict);
        assert_eq!(err.exit_code(), 2);
        let text = err.to_string();
        assert!(
            text.contains("--since 2024-03-01 is after --until 2024-02-01"),
            "{text}"
        );
        assert!(text.contains("stk sync"), "{text}");
    }

    #[test]
    fn full_conflicts_with_a_range() {
        for args in [
            &["sync", "--full", "--since", "2024-01-01"][..],
            &["sync", "--until", "2024-01-01", "--full"][..],
        ] {
            let err = parse(args).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ArgumentConflict, "{args:?}");
        }
    }

    #[test]
    fn status_and_list_parse() {
        let cli = parse(&[
            "sync",
            "status",
            "abc",
            "--wait",
            "--poll-interval",
            "20",
            "-vv",
        ])
        .unwrap();
        assert_eq!(cli.verbose, 2);
        match cli.command {
            Command::Sync(SyncCommand {
                action: Some(SyncAction::Status(args)),
                ..
            }) => {
                assert_eq!(args.job_id.as_deref(), Some("abc"));
                assert!(args.wait.wait);
                assert_eq!(args.wait.poll_interval, 20);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(parse(&["sync", "status", ""]).is_err());
        assert!(parse(&["sync", "list", "--json"]).is_ok());
        // Start options do not mix with subcommands.
        assert!(parse(&["sync", "--full", "list"]).is_err());
        assert!(parse(&["sync", "status", "--poll-interval", "0"]).is_err());
    }

    #[test]
    fn help_documents_exit_codes() {
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("Exit codes:"), "{help}");
        assert!(help.contains("130"), "{help}");
    }
}
