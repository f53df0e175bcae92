//! The composition root: arguments, the environment and `config.json` resolved once, then the
//! command.

use crate::cli::{Cli, Command};
use crate::commands;
use crate::error::CliError;
use crate::output::Out;
use crate::settings::{Environment, Resolved};

/// Runs one parsed command line, writing results to `out`.
pub async fn run(cli: Cli, out: &mut Out) -> Result<(), CliError> {
    let settings = Resolved::new(&cli, Environment::from_process()?);
    match cli.command.unwrap_or_else(Command::default_command) {
        Command::Streak(args) => commands::streak(&settings, args, out).await,
        Command::Stats(args) => commands::stats(&settings, args, out).await,
        Command::Recent(args) => commands::recent(&settings, args, out).await,
        Command::Runs(args) => commands::runs(&settings, args, out).await,
        Command::Monthly(args) => commands::monthly(&settings, args, out).await,
        Command::Records(args) => commands::records(&settings, args, out).await,
        Command::Config(command) => commands::config(&settings, command, out).await,
        Command::Completions(args) => commands::completions(args, out),
        Command::Auth(auth) => crate::login::run(&settings, auth, out).await,
        Command::Sync(sync) => crate::sync::run(&settings, sync, out).await,
    }
}
