//! `stk-local`: the local stack's backend, for the demo and for development.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use stk_adapters::{Adapters, Settings};
use stk_core::sync::EngineSettings;
use tokio::sync::watch;
use tracing::info;

use crate::stack_env::{Checkout, StackEnv};
use crate::{Poller, PollerSettings, ResourceNames, SecretValues, provision};

#[derive(Debug, Parser)]
#[command(
    name = "stk-local",
    about = "Run MyRunStreak's backend on the local stack"
)]
pub struct Args {
    /// The SmashRun sandbox's base URL.
    #[arg(
        long,
        env = "STK_SANDBOX_URL",
        default_value = "http://127.0.0.1:25432",
        global = true
    )]
    sandbox_url: String,
    /// The API's address as runners reach it: SmashRun's redirect URI (stored in the SmashRun
    /// secret) is its `/auth/callback`.
    #[arg(
        long,
        env = "API_BASE_URL",
        default_value = "http://127.0.0.1:25433",
        global = true
    )]
    api_url: String,
    /// The checkout whose local stack (`.stack/env`) to use [default: the one the working
    /// directory is in].
    #[arg(long, env = crate::stack_env::CHECKOUT_VAR, value_name = "DIR", global = true)]
    checkout: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print which checkout's stack the other commands use, and its addresses.
    Stack,
    /// Create the queue, dead-letter queue, jobs table and secrets in moto (idempotent).
    Provision,
    /// Provision, then serve the API router and run the worker from the queue.
    Serve {
        #[arg(long, env = "STK_API_ADDR", default_value = "127.0.0.1:25433")]
        addr: String,
        /// Queue visibility timeout, seconds (Terraform: six times the worker's timeout).
        #[arg(long, env = "STK_VISIBILITY_TIMEOUT_SECS", default_value_t = 30)]
        visibility_timeout: u64,
    },
    /// Fire the nightly schedule now: queue a sync for every linked user (the worker of
    /// `stk-local serve` then runs them).
    Schedule,
    /// Compare what the database holds with what the sandbox reports, and the views' maintained
    /// summaries with the from-scratch SQL.
    Check,
    /// Run the nightly scheduler over many users against moto, and print its figures.
    BenchScheduler {
        #[arg(long, default_value_t = 100_000)]
        users: usize,
    },
    /// Time a full sync of 20,614 runs, with and without 100 ms added to each SmashRun answer.
    BenchSync,
    /// Time every read endpoint for a 20,614-run history among 50 others of the same size.
    BenchReads {
        /// Timed calls per endpoint.
        #[arg(long, default_value_t = 30)]
        calls: usize,
    },
    /// Time the release binaries' start-up: each Lambda's init up to its first runtime-API
    /// poll, and `stk streak --json` against an unreachable API (needs no stack).
    BenchStartup {
        #[arg(long, default_value_t = 20)]
        runs: usize,
    },
}

/// The secrets as an operator stores them; SmashRun sends the browser back to the API at
/// `api_url` (what `stk-local serve` listens on).
fn secret_values(env: &StackEnv, api_url: &str) -> anyhow::Result<SecretValues> {
    Ok(SecretValues {
        smashrun_redirect_uri: format!("{}/auth/callback", api_url.trim_end_matches('/')),
        smashrun_client_id: env.get_or("SANDBOX_CLIENT_ID", "sandbox-client").to_owned(),
        smashrun_client_secret: env
            .get_or("SANDBOX_CLIENT_SECRET", "sandbox-secret")
            .to_owned(),
        supabase_url: env.get("SUPABASE_URL")?.to_owned(),
        supabase_service_role_key: env.get("SUPABASE_SERVICE_ROLE_KEY")?.to_owned(),
        // The stack's own key, kept with its database: moto forgets its secrets when it
        // restarts, and tokens encrypted under a lost key could never be read again.
        token_key: env.get("STK_LOCAL_TOKEN_KEY").ok().map(str::to_owned),
    })
}

/// What API Gateway puts behind one address: `/auth/*` goes to the auth function, the rest to
/// the API function. Locally one server serves both routers.
pub fn local_router(adapters: &Adapters) -> axum::Router {
    stk_api::serve(
        stk_api::routes(stk_api::AppState::from_adapters(adapters)).merge(stk_auth::routes(
            stk_auth::AuthState::from_adapters(adapters),
        )),
    )
}

/// Settings as Terraform would set them, pointed at the local resources and the sandbox.
pub fn local_settings(
    names: &ResourceNames,
    queue_url: &str,
    sandbox_url: &str,
) -> anyhow::Result<Settings> {
    let sandbox = sandbox_url.trim_end_matches('/');
    Ok(Settings::from_lookup(|name| match name {
        "STK_JOBS_TABLE" => Some(names.table.clone()),
        "STK_DEAD_LETTER_QUEUE" => Some(names.dead_letter_queue.clone()),
        "STK_QUEUE_URL" => Some(queue_url.to_owned()),
        "STK_SMASHRUN_SECRET_ID" => Some(names.smashrun_secret.clone()),
        "STK_SUPABASE_SECRET_ID" => Some(names.supabase_secret.clone()),
        "STK_TOKEN_KEY_SECRET_ID" => Some(names.token_key_secret.clone()),
        "STK_SMASHRUN_API_URL" => Some(format!("{sandbox}/v1")),
        "STK_SMASHRUN_AUTH_URL" => Some(sandbox.to_owned()),
        // Locally the nightly syncs start at once: nobody waits a quarter of an hour for a demo.
        "STK_NIGHTLY_SPREAD_SECS" => Some("0".to_owned()),
        _ => None,
    })?)
}

async fn adapters(env: &StackEnv, args: &Args, visibility: Duration) -> anyhow::Result<Adapters> {
    let sandbox_url = args.sandbox_url.as_str();
    let aws = env.aws().await?;
    let names = ResourceNames::defaults();
    let provisioned = provision(
        &aws,
        &names,
        &secret_values(env, &args.api_url)?,
        visibility,
    )
    .await
    .context("failed to provision the local AWS resources (is moto up? `scripts/stack.sh up`)")?;
    let settings = local_settings(&names, &provisioned.queue_url, sandbox_url)?;
    Ok(Adapters::build(settings, &aws)?)
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let cwd = std::env::current_dir().context("failed to read the working directory")?;
    let checkout = Checkout::discover(args.checkout.as_deref(), &cwd)?;
    let env = StackEnv::load(checkout, std::env::vars());
    match &args.command {
        Command::Stack => {
            println!("{env}");
            return Ok(());
        }
        Command::BenchStartup { runs } => {
            return crate::bench_startup::bench_startup((*runs).max(1)).await;
        }
        _ => {}
    }
    eprintln!("stk-local: using {env}");
    match &args.command {
        Command::Stack | Command::BenchStartup { .. } => {}
        Command::Provision => {
            let adapters = adapters(&env, &args, Duration::from_secs(30)).await?;
            println!("provisioned: queue {}", adapters.settings.queue_url);
        }
        Command::Serve {
            addr,
            visibility_timeout,
        } => {
            let adapters = adapters(&env, &args, Duration::from_secs(*visibility_timeout)).await?;
            serve(&env, adapters, addr).await?;
        }
        Command::Schedule => {
            let adapters = adapters(&env, &args, Duration::from_secs(30)).await?;
            let report = stk_scheduler::Scheduler::from_adapters(&adapters)
                .run()
                .await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        Command::Check => check(&env, &args).await?,
        Command::BenchScheduler { users } => {
            crate::bench_scheduler::bench_scheduler(
                &env,
                &secret_values(&env, &args.api_url)?,
                *users,
            )
            .await?;
        }
        Command::BenchSync => {
            crate::bench_sync::bench_sync(&env, &secret_values(&env, &args.api_url)?).await?;
        }
        Command::BenchReads { calls } => {
            let adapters = adapters(&env, &args, Duration::from_secs(30)).await?;
            crate::bench::bench_reads(&adapters, &env, (*calls).max(1)).await?;
        }
    }
    Ok(())
}

async fn serve(env: &StackEnv, adapters: Adapters, addr: &str) -> anyhow::Result<()> {
    // API Gateway sends /auth/* to the auth function and the rest to the API function; one
    // server here serves both routers.
    let router = local_router(&adapters);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("failed to listen on {addr}"))?;
    let worker = Arc::new(stk_worker::Worker::from_adapters(
        &adapters,
        EngineSettings::default(),
    ));
    let sqs = aws_sdk_sqs::Client::new(&env.aws().await?);
    let poller = Poller::new(
        sqs.clone(),
        adapters.settings.queue_url.clone(),
        PollerSettings::default(),
    );
    // As in AWS, the worker also consumes the dead-letter queue, to fail what lands there.
    let dead_letters = Poller::new(
        sqs,
        crate::poller::sibling_queue_url(
            &adapters.settings.queue_url,
            &adapters.settings.dead_letter_queue,
        ),
        PollerSettings::default(),
    );
    let (stop, stopped) = watch::channel(false);
    let dead_worker = worker.clone();
    let dead_stopped = stopped.clone();
    let dead =
        tokio::spawn(async move { dead_letters.run(dead_worker.as_ref(), dead_stopped).await });
    let worker = tokio::spawn(async move { poller.run(worker.as_ref(), stopped).await });
    info!(%addr, "api listening; worker polling {}", adapters.settings.queue_url);
    println!("stk-local serving the API on http://{addr}");
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    // The poller finishes the receive it is in (a long poll cut short would leave its message
    // in flight with a dead receiver until the visibility timeout) and releases what it holds.
    info!("stopping: the worker finishes its current batch");
    let _ = stop.send(true);
    let _ = tokio::join!(worker, dead);
    info!("stopped");
    Ok(())
}

/// Ctrl-C or SIGTERM (what `scripts/demo.sh`, `kill` and service managers send).
async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops gracefully");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

async fn check(env: &StackEnv, args: &Args) -> anyhow::Result<()> {
    let sandbox_url = args.sandbox_url.as_str();
    let adapters = adapters(env, args, Duration::from_secs(30)).await?;
    let summary: smashrun_sandbox::Summary = reqwest::get(format!(
        "{}/admin/summary",
        sandbox_url.trim_end_matches('/')
    ))
    .await?
    .error_for_status()?
    .json()
    .await?;
    let user = adapters
        .store
        .user_for_smashrun_account(&summary.user_id.to_string())
        .await?
        .context("the sandbox's runner is not linked: run `stk auth login` first")?;
    let db = adapters.store.run_summary(user).await?;
    println!("                 sandbox   database");
    println!(
        "runs         {:>11} {:>10}",
        summary.run_count, db.run_count
    );
    println!(
        "longest streak {:>9} {:>10}",
        summary.longest_streak, db.longest_streak
    );
    println!(
        "distance km  {:>11.1} {:>10.1}",
        summary.total_distance_km, db.total_distance_km
    );
    anyhow::ensure!(
        summary.run_count == db.run_count && summary.longest_streak == db.longest_streak,
        "the database does not match the sandbox"
    );
    println!("the database matches the sandbox");
    let drift = crate::summaries::drift(
        &crate::postgrest::PostgrestAdmin::new(env)?,
        user,
        time::OffsetDateTime::now_utc().date(),
    )
    .await?;
    anyhow::ensure!(
        drift.is_empty(),
        "the maintained summaries differ from the from-scratch SQL:\n  {}",
        drift.join("\n  ")
    );
    println!("the maintained summaries match the from-scratch SQL");
    Ok(())
}
