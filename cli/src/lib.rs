//! `stk`, MyRunStreak's thin command-line client.
//!
//! It knows the API's base URL and its own API key, nothing else: SmashRun and the run store are
//! reached only through the API, whose wire types come from `stk-protocol`.
//!
//! # Commands
//!
//! - `stk` / `stk streak [--json]`: the current streak in a panel, then the top streaks.
//! - `stk stats [--json]`: lifetime totals.
//! - `stk recent [-n 10] [--json]`: the latest runs.
//! - `stk runs [--since DATE] [--until DATE] [-n 50] [--offset 0] [--json]`: runs, a page at a time.
//! - `stk monthly [-n 12] [--json]`: totals month by month.
//! - `stk records [--json]`: longest run, fastest pace, best month and week.
//! - `stk config show [--json]`, `stk config set timezone [ZONE]`, `stk config set min-distance
//!   DISTANCE`, `stk config set units mi|km`.
//! - `stk completions bash|zsh|fish|elvish|powershell`.
//! - `stk auth login [--no-browser]`, `stk auth status [--json]`, `stk auth logout [--all]`.
//! - `stk sync [--since DATE] [--until DATE] [--full] [--wait] [--json]`: queue a sync (and follow it).
//! - `stk sync status [JOB_ID] [--wait] [--json]`: one job, by default the most recent.
//! - `stk sync list [--json]`: recent jobs, newest first.
//!
//! Views print distances in miles unless `--units km`, `STK_UNITS=km` or `units` in
//! `config.json` say otherwise ([`format`]); tables fit the terminal ([`table`]); colour only on
//! a terminal without `NO_COLOR` ([`term`]).
//!
//! # Exit codes
//!
//! One meaning per code, listed once in [`exit::Exit`] (and shown by `stk --help`); errors are
//! mapped to them in [`error::CliError::exit_code`].
//!
//! # Configuration
//!
//! Resolved once per run, in [`settings`]: the flags, the environment and `config.json`; every
//! command receives that one [`settings::Resolved`] and reads nothing else.
//!
//! - `API_BASE_URL` (or `--api-url`): the API's address; also read from `./.env` (the process
//!   environment wins over the file); else `api_url` in `config.json`.
//! - `STK_API_KEY`: an API key that overrides the config file (for CI and scripts).
//! - `STK_CONFIG_DIR` (or `--config-dir`): where `config.json` lives; default
//!   `$XDG_CONFIG_HOME/stk`, else `~/.config/stk`. See [`config`].
//! - `STK_POLL_INTERVAL_MS` (or `--poll-interval`): how often `--wait` polls, default 500 (the
//!   first poll comes 25 ms after the job is queued, and the delay doubles up to the interval).
//! - `STK_UNITS` (or `--units`): `mi` or `km` for the views.
//! - `NO_COLOR` (or `--color never`): no colour; `COLUMNS`: the width tables are fitted to.

pub mod app;
pub mod cli;
pub mod client;
pub mod commands;
pub mod config;
pub mod error;
pub mod exit;
pub mod format;
pub mod login;
pub mod output;
pub mod render;
pub mod settings;
pub mod sync;
pub mod table;
pub mod term;
pub mod timezone;
pub mod views;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::Cli;
use crate::error::CliError;
use crate::exit::Exit;
use crate::output::{Out, stderr_line};

/// The whole program: `.env`, arguments, one current-thread runtime, the command, the exit code.
pub fn main() -> ExitCode {
    render::init_local_offset();
    load_dotenv();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // Help and version go to stdout with 0; errors to stderr with 2.
            let _ = err.print();
            return ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(Exit::Usage.code()));
        }
    };
    let verbosity = cli.verbose;
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)
        .and_then(|runtime| {
            let mut out = Out::stdout();
            let result = runtime.block_on(app::run(cli, &mut out));
            let flushed = out.flush();
            result.and(flushed)
        });
    report(result, verbosity).into()
}

/// Loads `./.env` (never a parent directory's) without overriding the environment.
/// Runs before the runtime starts, while the process has a single thread.
fn load_dotenv() {
    match dotenvy::from_path(".env") {
        Ok(()) => {}
        Err(err) if err.not_found() => {}
        Err(err) => stderr_line(format_args!("warning: ignoring ./.env: {err}")),
    }
}

/// Shows an error once, on stderr, and returns the exit code.
fn report(result: Result<(), CliError>, verbosity: u8) -> Exit {
    let Err(err) = result else {
        return Exit::Success;
    };
    match &err {
        CliError::BrokenPipe => {}
        CliError::Usage(usage) => {
            let _ = usage.print();
        }
        CliError::Interrupted { .. } => stderr_line(format_args!("{err}")),
        _ => {
            stderr_line(format_args!("error: {err}"));
            if verbosity > 0 {
                let mut source = std::error::Error::source(&err);
                while let Some(cause) = source {
                    stderr_line(format_args!("debug: caused by: {cause}"));
                    source = cause.source();
                }
            }
        }
    }
    err.exit_code()
}
