//! `stk-local bench-reads`: times every read endpoint over histories of about 5,000 and 20,000
//! runs, through the real router, PostgREST and PostgreSQL. Prints the median of repeated calls.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::Value;
use smashrun_sandbox::{DataSource, Profile, SandboxConfig};
use stk_adapters::Adapters;
use stk_core::activity::Run;
use stk_core::auth::ApiKey;
use stk_core::ports::{ApiKeyStore, RunStore, SmashrunUser, SourceStore};
use stk_core::tokens::TokenSet;

const ENDPOINTS: &[&str] = &[
    "/streak",
    "/stats",
    "/stats/monthly?limit=12",
    "/records",
    "/runs?limit=50",
    "/runs?limit=50&offset=10000",
    "/runs?since=2020-01-01&until=2020-12-31&limit=50",
    "/runs/recent?limit=10",
    "/settings",
];

pub async fn bench_reads(adapters: &Adapters, calls: usize) -> anyhow::Result<()> {
    let router = stk_api::router(stk_api::AppState::from_adapters(adapters));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, router).await });
    let http = reqwest::Client::new();

    println!(
        "read endpoints: median / p95 / max of {calls} calls after 3 warm-up calls, milliseconds"
    );
    for (profile, label) in [
        (Profile::Streaker, "streaker"),
        (Profile::Lifetime, "lifetime"),
    ] {
        let (key, runs) = seed_history(adapters, profile, label).await?;
        println!("\n{label}: {runs} runs");
        for endpoint in ENDPOINTS {
            let mut times = Vec::with_capacity(calls);
            for i in 0..calls + 3 {
                let started = Instant::now();
                let response = http
                    .get(format!("{base}{endpoint}"))
                    .bearer_auth(key.expose())
                    .send()
                    .await?;
                anyhow::ensure!(
                    response.status().is_success(),
                    "{endpoint}: {}",
                    response.status()
                );
                response.bytes().await?;
                if i >= 3 {
                    times.push(started.elapsed());
                }
            }
            times.sort();
            let ms = |d: Duration| d.as_secs_f64() * 1000.0;
            println!(
                "  {endpoint:<52} {:>7.1} {:>7.1} {:>7.1}",
                ms(times[times.len() / 2]),
                ms(times[(times.len() * 95 / 100).min(times.len() - 1)]),
                ms(times[times.len() - 1])
            );
        }
    }
    Ok(())
}

/// A user holding the profile's generated history (created once, reused on later runs).
async fn seed_history(
    adapters: &Adapters,
    profile: Profile,
    label: &str,
) -> anyhow::Result<(ApiKey, usize)> {
    let sandbox = smashrun_sandbox::spawn(SandboxConfig {
        data: DataSource::Generated { profile, seed: 42 },
        ..SandboxConfig::default()
    })
    .await?;
    let activities: Vec<Value> = reqwest::get(format!("{}/admin/activities", sandbox.base_url))
        .await?
        .json()
        .await?;
    let runs: Vec<Run> = activities
        .iter()
        .map(Run::from_smashrun)
        .collect::<Result<_, _>>()
        .context("a generated activity did not read as a run")?;
    let account = SmashrunUser {
        id: format!("bench-{label}"),
        user_name: Some(format!("bench {label}")),
        display_name: None,
    };
    // Placeholder tokens: this user is never synced, only read.
    let now = time::OffsetDateTime::now_utc();
    let tokens = TokenSet {
        access_token: "unused".into(),
        refresh_token: "unused".into(),
        issued_at: now,
        expires_at: now + time::Duration::days(84),
    };
    let user = adapters.store.link_smashrun(&account, &tokens).await?;
    if adapters.store.run_summary(user).await?.run_count != runs.len() as u64 {
        let load = stk_core::JobId::random();
        let checkpoint = stk_core::job::SourceCheckpoint::bulk_load(load, now);
        for page in runs.chunks(500) {
            adapters
                .store
                .upsert_runs(user, page, load, &checkpoint)
                .await?;
        }
    }
    let key = ApiKey::generate()?;
    adapters
        .store
        .insert_key(user, &key.hash(), &key.prefix(), "read benchmark")
        .await?;
    Ok((key, runs.len()))
}
