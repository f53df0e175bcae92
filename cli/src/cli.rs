//! Command-line arguments (clap derive) and the checks clap cannot express.

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::NonEmptyStringValueParser;
use clap::error::ErrorKind;
use clap::{ArgAction, Args, CommandFactory, Parser, Subcommand};
use stk_protocol::{IsoDate, SyncRequestBody};

use crate::client::RunsQuery;
use crate::format::Units;
use crate::term::ColorChoice;

const GLOBAL: &str = "Global options";

/// `stk runs` shows this many runs unless `-n` says otherwise.
pub const RUNS_DEFAULT_LIMIT: u32 = 50;

/// MyRunStreak: your running streak, runs and statistics, synced from SmashRun through the
/// MyRunStreak API. Without a command, shows your streak.
#[derive(Debug, Parser)]
#[command(name = "stk", version, after_help = crate::error::after_help())]
pub struct Cli {
    /// The API's base URL, e.g. https://abc123.execute-api.eu-west-1.amazonaws.com/prod
    #[arg(
        long,
        global = true,
        env = "API_BASE_URL",
        value_name = "URL",
        help_heading = GLOBAL
    )]
    pub api_url: Option<String>,

    /// Directory holding config.json [default: $XDG_CONFIG_HOME/stk, else ~/.config/stk]
    #[arg(
        long,
        global = true,
        env = "STK_CONFIG_DIR",
        value_name = "DIR",
        help_heading = GLOBAL
    )]
    pub config_dir: Option<PathBuf>,

    /// Units for distances, paces (and °F or °C) [default: `units` in config.json, else mi]
    #[arg(
        long,
        global = true,
        env = "STK_UNITS",
        value_enum,
        value_name = "UNITS",
        help_heading = GLOBAL
    )]
    pub units: Option<Units>,

    /// When to colour: auto is when stdout is a terminal and NO_COLOR is not set
    #[arg(
        long,
        global = true,
        value_enum,
        value_name = "WHEN",
        default_value_t = ColorChoice::Auto,
        help_heading = GLOBAL
    )]
    pub color: ColorChoice,

    /// Print debug output (requests, timings) on stderr; repeat for more
    #[arg(short, long, global = true, action = ArgAction::Count, help_heading = GLOBAL)]
    pub verbose: u8,

    /// What to do [default: streak]
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Your current streak, its tier, what today still needs, and your longest streaks (the default)
    Streak(JsonArgs),
    /// Lifetime totals: runs, distance, averages, longest run, time on your feet
    Stats(JsonArgs),
    /// Your latest runs
    Recent(RecentArgs),
    /// Your runs, newest first, a page at a time, optionally between two dates
    Runs(RunsArgs),
    /// Totals month by month, newest first
    Monthly(MonthlyArgs),
    /// Your records: longest run, fastest pace, best month, best week
    Records(JsonArgs),
    /// Link your SmashRun account and get an API key, see who you are logged in as, log out
    Auth(AuthCommand),
    /// Sync your SmashRun activities into your run store, and follow sync jobs
    Sync(SyncCommand),
    /// Show or change your settings: time zone, streak minimum, units
    Config(ConfigCommand),
    /// Print a shell completion script on stdout
    #[command(after_help = COMPLETIONS_HELP)]
    Completions(CompletionsArgs),
}

impl Command {
    /// What `stk` alone does.
    pub fn default_command() -> Self {
        Self::Streak(JsonArgs { json: false })
    }
}

#[derive(Debug, Args)]
pub struct AuthCommand {
    #[command(subcommand)]
    pub action: AuthAction,
}

#[derive(Debug, Subcommand)]
pub enum AuthAction {
    /// Sign in with SmashRun in the browser; the API key is kept for this API only
    Login(LoginArgs),
    /// Who this API knows you as, your SmashRun link and its health
    Status(JsonArgs),
    /// Revoke the API key (and forget it here)
    Logout(LogoutArgs),
}

#[derive(Debug, Clone, Copy, Args)]
pub struct LoginArgs {
    /// Do not open a browser: print the address to open on any device (a phone too), and accept
    /// the code from the address SmashRun sends you back to, pasted here
    #[arg(long)]
    pub no_browser: bool,
}

#[derive(Debug, Clone, Copy, Args)]
pub struct LogoutArgs {
    /// Revoke every key of your account, on every machine
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Clone, Copy, Args)]
pub struct JsonArgs {
    /// Print the API's answer as JSON on stdout, and nothing else
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, Args)]
pub struct RecentArgs {
    /// How many runs to show
    #[arg(
        short = 'n',
        long = "limit",
        value_name = "N",
        default_value_t = 10,
        value_parser = clap::value_parser!(u32).range(1..=100)
    )]
    pub limit: u32,

    #[command(flatten)]
    pub output: JsonArgs,
}

#[derive(Debug, Clone, Copy, Args)]
pub struct RunsArgs {
    /// Only runs on or after this local date (YYYY-MM-DD)
    #[arg(long, value_name = "DATE")]
    pub since: Option<IsoDate>,

    /// Only runs on or before this local date (YYYY-MM-DD)
    #[arg(long, value_name = "DATE")]
    pub until: Option<IsoDate>,

    /// How many runs to show
    #[arg(
        short = 'n',
        long = "limit",
        value_name = "N",
        default_value_t = RUNS_DEFAULT_LIMIT,
        value_parser = clap::value_parser!(u32).range(1..=500)
    )]
    pub limit: u32,

    /// How many of the newest runs to skip
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub offset: u64,

    #[command(flatten)]
    pub output: JsonArgs,
}

impl RunsArgs {
    /// The query, after the checks clap's attributes cannot make.
    pub fn query(&self) -> Result<RunsQuery, clap::Error> {
        check_range(&["runs"], self.since, self.until)?;
        Ok(RunsQuery {
            since: self.since,
            until: self.until,
            limit: Some(self.limit),
            offset: Some(self.offset),
        })
    }
}

#[derive(Debug, Clone, Copy, Args)]
pub struct MonthlyArgs {
    /// How many months to show
    #[arg(
        short = 'n',
        long = "limit",
        value_name = "N",
        default_value_t = 12,
        value_parser = clap::value_parser!(u32).range(1..=600)
    )]
    pub limit: u32,

    #[command(flatten)]
    pub output: JsonArgs,
}

#[derive(Debug, Args)]
pub struct ConfigCommand {
    /// [default: show]
    #[command(subcommand)]
    pub action: Option<ConfigAction>,
}

#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Show your settings (the server's and this machine's; never the API key)
    Show(JsonArgs),
    /// Change a setting
    Set(SetCommand),
}

#[derive(Debug, Args)]
pub struct SetCommand {
    #[command(subcommand)]
    pub setting: Setting,
}

#[derive(Debug, Subcommand)]
pub enum Setting {
    /// Your IANA time zone (e.g. Europe/Paris): it decides which day a run counts for
    #[command(visible_alias = "tz", alias = "time-zone")]
    Timezone {
        /// The zone [default: this machine's]
        #[arg(value_name = "ZONE", value_parser = NonEmptyStringValueParser::new())]
        zone: Option<String>,
    },
    /// The distance a day's runs must add up to for the streak (0: any run counts)
    #[command(alias = "min-streak-distance", after_help = MIN_DISTANCE_HELP)]
    MinDistance {
        /// 1mi, 1.6km, 1609m, or a bare number in your units
        #[arg(value_name = "DISTANCE", allow_hyphen_values = true)]
        distance: String,
    },
    /// The units to show, on this machine only (saved in config.json)
    Units {
        #[arg(value_enum, value_name = "UNITS")]
        units: Units,
    },
}

const MIN_DISTANCE_HELP: &str = "\
Examples:
  stk config set min-distance 1mi     the Streak Runners International minimum
  stk config set min-distance 1.6km
  stk config set min-distance 0       any run counts";

const COMPLETIONS_HELP: &str = "\
Examples:
  stk completions bash > ~/.local/share/bash-completion/completions/stk
  stk completions zsh > ~/.zfunc/_stk        # with fpath+=(~/.zfunc) in ~/.zshrc
  stk completions fish > ~/.config/fish/completions/stk.fish";

#[derive(Debug, Clone, Copy, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
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

/// `stk sync [-s DATE] [-u DATE] [--year YYYY] [-f] [--wait] [--json]` (the Python CLI's short
/// flags `-s`, `-u` and `-f` kept)
#[derive(Debug, Args)]
pub struct StartArgs {
    /// Sync only runs on or after this local date (YYYY-MM-DD)
    #[arg(short = 's', long, value_name = "DATE")]
    pub since: Option<IsoDate>,

    /// Sync only runs on or before this local date (YYYY-MM-DD)
    #[arg(short = 'u', long, value_name = "DATE")]
    pub until: Option<IsoDate>,

    /// Sync only the runs of one calendar year (same as --since YYYY-01-01 --until YYYY-12-31)
    #[arg(
        long,
        value_name = "YYYY",
        conflicts_with_all = ["since", "until"],
        value_parser = clap::value_parser!(u16).range(1970..=2100)
    )]
    pub year: Option<u16>,

    /// Fetch every activity, not only what changed (also notices runs deleted on SmashRun)
    #[arg(short = 'f', long, conflicts_with_all = ["since", "until", "year"])]
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

    /// Stop waiting when the job has made no progress for this many seconds
    #[arg(
        long,
        value_name = "SECS",
        env = "STK_STALL_TIMEOUT_SECS",
        default_value_t = 600,
        value_parser = clap::value_parser!(u64).range(1..=86_400)
    )]
    pub stall_timeout: u64,
}

impl WaitArgs {
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval)
    }

    pub fn stall_timeout(&self) -> Duration {
        Duration::from_secs(self.stall_timeout)
    }
}

impl StartArgs {
    /// The request body, after the checks clap's attributes cannot make.
    pub fn request_body(&self) -> Result<SyncRequestBody, clap::Error> {
        check_range(&["sync"], self.since, self.until)?;
        let (since, until) = match self.year {
            Some(year) => {
                let day = |text: String| {
                    text.parse::<IsoDate>()
                        .map_err(|e| usage_error(&["sync"], ErrorKind::InvalidValue, e.to_string()))
                };
                (
                    Some(day(format!("{year:04}-01-01"))?),
                    Some(day(format!("{year:04}-12-31"))?),
                )
            }
            None => (self.since, self.until),
        };
        Ok(SyncRequestBody {
            since,
            until,
            full: self.full.then_some(true),
        })
    }
}

/// `--since` must not be after `--until`.
fn check_range(
    command: &[&str],
    since: Option<IsoDate>,
    until: Option<IsoDate>,
) -> Result<(), clap::Error> {
    match (since, until) {
        (Some(since), Some(until)) if since > until => Err(usage_error(
            command,
            ErrorKind::ArgumentConflict,
            format!("--since {since} is after --until {until}: swap the dates"),
        )),
        _ => Ok(()),
    }
}

/// A usage error shown like clap's own, with the usage of the (sub)command at `path`
/// (`["config", "set"]` for `stk config set`).
pub fn usage_error(path: &[&str], kind: ErrorKind, message: String) -> clap::Error {
    let mut command = Cli::command();
    command.build();
    for name in path {
        match command.find_subcommand(name) {
            Some(sub) => command = sub.clone(),
            None => break,
        }
    }
    command.error(kind, message)
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
            Some(Command::Sync(SyncCommand {
                action: None,
                start,
            })) => start,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_year_is_its_first_to_its_last_day_and_the_python_short_flags_work() {
        let body = start_args(&["sync", "--year", "2024"])
            .request_body()
            .unwrap();
        assert_eq!(body.since.unwrap().to_string(), "2024-01-01");
        assert_eq!(body.until.unwrap().to_string(), "2024-12-31");
        let body = start_args(&["sync", "-s", "2024-03-01", "-u", "2024-03-31"])
            .request_body()
            .unwrap();
        assert_eq!(body.since.unwrap().to_string(), "2024-03-01");
        assert_eq!(body.until.unwrap().to_string(), "2024-03-31");
        assert_eq!(
            start_args(&["sync", "-f"]).request_body().unwrap().full,
            Some(true)
        );
        for bad in [
            &["sync", "--year", "2024", "--since", "2024-01-02"][..],
            &["sync", "--year", "2024", "-f"][..],
            &["sync", "--year", "1969"][..],
            &["sync", "--year", "24x"][..],
        ] {
            assert_eq!(parse(bad).unwrap_err().exit_code(), 2, "{bad:?}");
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
            Some(Command::Sync(SyncCommand {
                action: Some(SyncAction::Status(args)),
                ..
            })) => {
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
    fn no_command_means_the_streak() {
        let cli = parse(&[]).unwrap();
        assert!(cli.command.is_none());
        assert!(matches!(
            Command::default_command(),
            Command::Streak(JsonArgs { json: false })
        ));
        assert!(matches!(
            parse(&["streak", "--json"]).unwrap().command,
            Some(Command::Streak(JsonArgs { json: true }))
        ));
    }

    #[test]
    fn global_units_and_colour() {
        let cli = parse(&["stats", "--units", "km", "--color", "never"]).unwrap();
        assert_eq!(cli.units, Some(Units::Km));
        assert_eq!(cli.color, ColorChoice::Never);
        let cli = parse(&["--units", "miles", "recent"]).unwrap();
        assert_eq!(cli.units, Some(Units::Mi));
        assert_eq!(cli.color, ColorChoice::Auto);
        assert!(parse(&["stats", "--units", "furlongs"]).is_err());
        assert!(parse(&["stats", "--color", "sometimes"]).is_err());
    }

    #[test]
    fn view_limits_have_defaults_and_bounds() {
        match parse(&["recent"]).unwrap().command {
            Some(Command::Recent(args)) => assert_eq!(args.limit, 10),
            other => panic!("unexpected {other:?}"),
        }
        match parse(&["monthly", "-n", "600"]).unwrap().command {
            Some(Command::Monthly(args)) => assert_eq!(args.limit, 600),
            other => panic!("unexpected {other:?}"),
        }
        for bad in [
            &["recent", "-n", "0"][..],
            &["recent", "-n", "101"][..],
            &["runs", "-n", "501"][..],
            &["runs", "--offset", "-1"][..],
            &["monthly", "--limit", "601"][..],
            &["runs", "--since", "2024-02-30"][..],
        ] {
            let err = parse(bad).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad:?}");
        }
    }

    #[test]
    fn runs_query_checks_the_range() {
        let runs = |args: &[&str]| match parse(args).unwrap().command {
            Some(Command::Runs(args)) => args,
            other => panic!("unexpected {other:?}"),
        };
        let query = runs(&["runs"]).query().unwrap();
        assert_eq!(query.limit, Some(RUNS_DEFAULT_LIMIT));
        assert_eq!(query.offset, Some(0));
        let query = runs(&["runs", "--since", "2024-01-01", "-n", "5", "--offset", "10"])
            .query()
            .unwrap();
        assert_eq!(query.since, "2024-01-01".parse().ok());
        assert_eq!((query.limit, query.offset), (Some(5), Some(10)));
        let err = runs(&["runs", "--since", "2024-03-01", "--until", "2024-02-01"])
            .query()
            .unwrap_err();
        assert_eq!(err.exit_code(), 2);
        let text = err.to_string();
        assert!(
            text.contains("--since 2024-03-01 is after --until 2024-02-01"),
            "{text}"
        );
        assert!(text.contains("stk runs"), "{text}");
    }

    #[test]
    fn config_settings_parse() {
        let setting = |args: &[&str]| match parse(args).unwrap().command {
            Some(Command::Config(ConfigCommand {
                action: Some(ConfigAction::Set(SetCommand { setting })),
            })) => setting,
            other => panic!("unexpected {other:?}"),
        };
        assert!(matches!(
            setting(&["config", "set", "timezone", "Europe/Paris"]),
            Setting::Timezone { zone: Some(z) } if z == "Europe/Paris"
        ));
        assert!(matches!(
            setting(&["config", "set", "tz"]),
            Setting::Timezone { zone: None }
        ));
        assert!(matches!(
            setting(&["config", "set", "min-distance", "-1"]),
            Setting::MinDistance { distance } if distance == "-1"
        ));
        assert!(matches!(
            setting(&["config", "set", "units", "km"]),
            Setting::Units { units: Units::Km }
        ));
        assert!(parse(&["config", "set", "units", "furlongs"]).is_err());
        assert!(parse(&["config", "set", "timezone", ""]).is_err());
        assert!(matches!(
            parse(&["config"]).unwrap().command,
            Some(Command::Config(ConfigCommand { action: None }))
        ));
    }

    #[test]
    fn usage_errors_name_the_subcommand() {
        let err = usage_error(&["config", "set"], ErrorKind::InvalidValue, "bad".into());
        assert!(err.to_string().contains("stk config set"), "{err}");
        let err = usage_error(&["nope"], ErrorKind::InvalidValue, "bad".into());
        assert!(err.to_string().contains("Usage: stk"), "{err}");
    }

    #[test]
    fn help_documents_exit_codes() {
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("Exit codes:"), "{help}");
        assert!(help.contains("130"), "{help}");
    }
}
