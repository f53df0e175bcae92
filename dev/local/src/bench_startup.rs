//! `stk-local bench-startup`: how long the release binaries take to start, as whole processes.
//!
//! - Each Lambda binary, from exec to its first poll of the Lambda runtime API (a fake one here,
//!   which answers nothing: the time measured is the cold start's init, before any event).
//! - `stk streak --json` against an API that refuses connections: from exec to the error.
//!
//! Prints min / median / max over the runs. Build first: `cargo build --release --bins`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::sync::mpsc;

/// What the runtime API's first poll looks like.
const NEXT_INVOCATION: &str = "/2018-06-01/runtime/invocation/next";

pub async fn bench_startup(runs: usize) -> anyhow::Result<()> {
    let dir = binaries_dir()?;
    println!(
        "start-up of the release binaries in {}, {runs} runs each, milliseconds (min / median / max)",
        dir.display()
    );
    for binary in ["stk-api", "stk-worker", "stk-auth", "stk-scheduler"] {
        let times = lambda_init(&dir.join(binary), runs).await?;
        println!(
            "  {:<44} {}",
            format!("{binary}: exec to first runtime-API poll"),
            show(times)
        );
    }
    let times = stk_unreachable(&dir.join("stk"), runs).await?;
    println!(
        "  {:<44} {}",
        "stk streak --json, API unreachable",
        show(times)
    );
    Ok(())
}

/// The release binaries sit beside this one.
fn binaries_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("locating stk-local")?;
    let dir = exe
        .parent()
        .context("stk-local has no directory")?
        .to_owned();
    for binary in ["stk", "stk-api", "stk-worker"] {
        anyhow::ensure!(
            dir.join(binary).is_file(),
            "{} is missing: build the binaries first with `cargo build --release --bins`",
            dir.join(binary).display()
        );
    }
    Ok(dir)
}

async fn lambda_init(binary: &Path, runs: usize) -> anyhow::Result<Vec<Duration>> {
    let (polled, mut polls) = mpsc::unbounded_channel::<Instant>();
    let runtime = axum::Router::new().route(
        NEXT_INVOCATION,
        axum::routing::get(move || {
            let polled = polled.clone();
            async move {
                let _ = polled.send(Instant::now());
                // No event ever comes: the process is stopped before it could matter.
                std::future::pending::<()>().await;
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let server = tokio::spawn(async move { axum::serve(listener, runtime).await });

    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let mut child = std::process::Command::new(binary)
            .env_clear()
            .envs(lambda_environment(&address.to_string()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let polled = tokio::time::timeout(Duration::from_secs(10), polls.recv()).await;
        let exited = child.try_wait()?;
        child.kill().ok();
        child.wait()?;
        match (polled, exited) {
            (Ok(Some(at)), _) => times.push(at - started),
            (_, Some(status)) => {
                anyhow::bail!("{} exited before polling: {status}", binary.display())
            }
            _ => anyhow::bail!("{} did not poll within 10 s", binary.display()),
        }
    }
    server.abort();
    Ok(times)
}

/// What Lambda and Terraform set for a function; nothing here is contacted before the first
/// event.
fn lambda_environment(runtime_api: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_owned()),
        ("AWS_LAMBDA_FUNCTION_NAME", "bench-startup".to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".to_owned()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "bench".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "bench".to_owned()),
        ("AWS_SESSION_TOKEN", "bench".to_owned()),
        (
            "STK_QUEUE_URL",
            "https://sqs.us-east-1.amazonaws.com/000000000000/stk-sync-jobs".to_owned(),
        ),
    ]
}

async fn stk_unreachable(binary: &Path, runs: usize) -> anyhow::Result<Vec<Duration>> {
    let binary = binary.to_owned();
    tokio::task::spawn_blocking(move || {
        let config = tempfile_dir()?;
        let key = stk_core::auth::ApiKey::generate()?;
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let started = Instant::now();
            let out = std::process::Command::new(&binary)
                .args(["streak", "--json"])
                .env_clear()
                .env("STK_CONFIG_DIR", &config)
                // Port 9 (discard) on loopback: nothing listens, the connection is refused.
                .env("API_BASE_URL", "http://127.0.0.1:9")
                .env("STK_API_KEY", key.expose())
                .output()?;
            times.push(started.elapsed());
            anyhow::ensure!(
                !out.status.success(),
                "stk streak succeeded against an unreachable API"
            );
        }
        std::fs::remove_dir_all(&config).ok();
        Ok(times)
    })
    .await?
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("stk-bench-startup-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn show(mut times: Vec<Duration>) -> String {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "{:>6.2} / {:>6.2} / {:>6.2}",
        ms(times[0]),
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1])
    )
}
