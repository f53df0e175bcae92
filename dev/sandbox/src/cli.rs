//! The `smashrun-sandbox` command: flags, logging and a server that stops on SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use time::Date;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

use crate::config::{DataSource, Profile, RefreshPolicy, SandboxConfig};
use crate::server::Sandbox;
use crate::timefmt;

/// A local SmashRun API simulator: OAuth, activities, stats, plus /admin routes for tests.
#[derive(Debug, Parser)]
#[command(name = "smashrun-sandbox", version, about)]
pub struct Cli {
    /// Address to listen on.
    #[arg(long, env = "SANDBOX_ADDR", default_value = "127.0.0.1:25432")]
    pub addr: SocketAddr,
    /// Generated runner: streaker (4,330-day current streak), lifetime (20,000+ runs), small (60 days).
    #[arg(long, env = "SANDBOX_PROFILE", default_value = "streaker")]
    pub profile: Profile,
    /// Seed of the generated history.
    #[arg(long, env = "SANDBOX_SEED", default_value_t = 42)]
    pub seed: u64,
    /// Serve the activities in this file (a JSON array of SmashRun activity objects) instead of a generated history.
    #[arg(long, env = "SANDBOX_ACTIVITIES_FILE", value_name = "PATH")]
    pub activities_file: Option<PathBuf>,
    /// SmashRun user id of the runner.
    #[arg(long, env = "SANDBOX_USER_ID", default_value_t = 101)]
    pub user_id: i64,
    /// User name of the runner.
    #[arg(long, env = "SANDBOX_USER_NAME", default_value = "streaker")]
    pub user_name: String,
    /// OAuth client id accepted.
    #[arg(long, env = "SANDBOX_CLIENT_ID", default_value = "sandbox-client")]
    pub client_id: String,
    /// OAuth client secret accepted.
    #[arg(
        long,
        env = "SANDBOX_CLIENT_SECRET",
        default_value = "sandbox-secret",
        hide_env_values = true
    )]
    pub client_secret: String,
    /// Access token lifetime in seconds.
    #[arg(long, env = "SANDBOX_EXPIRES_IN", default_value_t = 7_257_600)]
    pub expires_in: u64,
    /// What refreshing does to the refresh token: reusable, rotating or expiring (30 days).
    #[arg(long, env = "SANDBOX_REFRESH_POLICY", default_value = "reusable")]
    pub refresh_policy: RefreshPolicy,
    /// Show a consent page instead of approving authorisation requests at once.
    #[arg(long, env = "SANDBOX_NO_AUTO_APPROVE")]
    pub no_auto_approve: bool,
    /// "Today" for the generated history and the current streak (YYYY-MM-DD); default: the current UTC date.
    #[arg(long, env = "SANDBOX_TODAY", value_parser = parse_today)]
    pub today: Option<Date>,
}

fn parse_today(text: &str) -> Result<Date, String> {
    timefmt::parse_date(text)
        .ok_or_else(|| format!("expected a date like 2025-06-15, got {text:?}"))
}

impl Cli {
    /// The sandbox configuration these flags describe.
    pub fn config(&self) -> SandboxConfig {
        let data = match &self.activities_file {
            Some(path) => DataSource::File(path.clone()),
            None => DataSource::Generated {
                profile: self.profile,
                seed: self.seed,
            },
        };
        SandboxConfig {
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.clone(),
            user_id: self.user_id,
            user_name: self.user_name.clone(),
            data,
            today: self.today,
            expires_in: self.expires_in,
            refresh_policy: self.refresh_policy,
            auto_approve: !self.no_auto_approve,
        }
    }
}

/// Logs to stderr; `RUST_LOG` overrides the default `info`.
pub fn init_tracing() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}

/// Builds the sandbox, prints `smashrun-sandbox listening on http://ADDR (N activities)` and serves until SIGTERM
/// or Ctrl-C.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = cli.config();
    tracing::info!(?config, "starting");
    let started = std::time::Instant::now();
    let sandbox = tokio::task::spawn_blocking(move || Sandbox::new(config))
        .await
        .context("the sandbox builder panicked")??;
    let count = sandbox.activity_count();
    tracing::info!(activities = count, elapsed_ms = started.elapsed().as_millis() as u64, summary = ?sandbox.summary(), "data ready");
    let listener = TcpListener::bind(cli.addr)
        .await
        .with_context(|| format!("failed to listen on {}", cli.addr))?;
    let addr = listener
        .local_addr()
        .context("failed to read the bound address")?;
    println!("smashrun-sandbox listening on http://{addr} ({count} activities)");
    axum::serve(listener, sandbox.router())
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("the server failed")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn flags_make_a_config() {
        let cli = Cli::try_parse_from([
            "smashrun-sandbox",
            "--profile",
            "small",
            "--seed",
            "9",
            "--refresh-policy",
            "rotating",
            "--no-auto-approve",
            "--today",
            "2025-06-15",
            "--addr",
            "127.0.0.1:0",
        ])
        .unwrap();
        let config = cli.config();
        assert!(matches!(
            config.data,
            DataSource::Generated {
                profile: Profile::Small,
                seed: 9
            }
        ));
        assert_eq!(config.refresh_policy, RefreshPolicy::Rotating);
        assert!(!config.auto_approve);
        assert_eq!(config.today, Some(time::macros::date!(2025 - 06 - 15)));
        assert!(Cli::try_parse_from(["smashrun-sandbox", "--profile", "elite"]).is_err());
        assert!(Cli::try_parse_from(["smashrun-sandbox", "--today", "15/06/2025"]).is_err());
        let file =
            Cli::try_parse_from(["smashrun-sandbox", "--activities-file", "runs.json"]).unwrap();
        assert!(matches!(file.config().data, DataSource::File(_)));
    }
}
