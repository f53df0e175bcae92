//! `smashrun-sandbox`: a local SmashRun API simulator (see `--help`).

use clap::Parser as _;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    smashrun_sandbox::cli::init_tracing();
    smashrun_sandbox::cli::run(smashrun_sandbox::cli::Cli::parse()).await
}
