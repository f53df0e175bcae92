//! `stk-local bench-scheduler`: the nightly run over many users against moto and the real
//! store. Creates the users, runs the scheduler against a queue and table of its own, prints
//! time and request counts, and removes the users again.

use std::time::Instant;

use anyhow::Context as _;
use reqwest::Method;
use serde_json::json;
use stk_adapters::Adapters;
use stk_scheduler::Scheduler;

use crate::cli::local_settings;
use crate::postgrest::PostgrestAdmin;
use crate::stack_env::StackEnv;
use crate::{ResourceNames, SecretValues, provision};

const MARK: &str = "bench-scheduler";

pub async fn bench_scheduler(
    env: &StackEnv,
    secrets: &SecretValues,
    users: usize,
) -> anyhow::Result<()> {
    let aws = env.aws().await?;
    let names = ResourceNames::suffixed(&format!("bench{}", std::process::id()));
    let provisioned = provision(&aws, &names, secrets, std::time::Duration::from_secs(30)).await?;
    let adapters = Adapters::build(
        local_settings(&names, &provisioned.queue_url, "http://127.0.0.1:1")?,
        &aws,
    )?;
    let store = PostgrestAdmin::new(env)?;

    store.remove_bench_users().await?;
    let started = Instant::now();
    store.create_bench_users(users).await?;
    println!(
        "created {users} linked users in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let scheduler = Scheduler::from_adapters(&adapters);
    let started = Instant::now();
    let report = scheduler.run().await;
    let elapsed = started.elapsed();
    store.remove_bench_users().await?;
    let report = report?;

    let sqs = aws_sdk_sqs::Client::new(&aws);
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&provisioned.queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await?;
    let on_queue = attributes
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages))
        .cloned()
        .unwrap_or_default();
    println!("scheduler run: {:.1} s", elapsed.as_secs_f64());
    println!(
        "  users read:        {} in {} store requests",
        report.users, report.user_pages
    );
    println!(
        "  nightly syncs:     {} queued, {} refused",
        report.queued, report.refused
    );
    println!("  SendMessageBatch:  {} requests", report.queue_requests);
    println!("  on the queue:      {on_queue} messages");
    Ok(())
}

/// The benchmark's users, set up and removed in bulk through PostgREST.
impl PostgrestAdmin {
    async fn create_bench_users(&self, count: usize) -> anyhow::Result<()> {
        let now = stk_core::job::rfc3339(time::OffsetDateTime::now_utc());
        for start in (0..count).step_by(1000) {
            let ids: Vec<String> = (start..(start + 1000).min(count))
                .map(|_| uuid::Uuid::new_v4().to_string())
                .collect();
            let users: Vec<_> = ids
                .iter()
                .map(|id| json!({"id": id, "display_name": MARK}))
                .collect();
            self.send(Method::POST, "users", &[], Some(json!(users)))
                .await
                .context("creating bench users")?;
            let sources: Vec<_> = ids
                .iter()
                .map(|id| {
                    json!({
                        "user_id": id, "source": "smashrun", "source_user_id": format!("{MARK}-{id}"),
                        // Never decrypted: these users are queued, not synced.
                        "tokens_ciphertext": "v1.unused", "token_expires_at": now, "token_refreshed_at": now,
                    })
                })
                .collect();
            self.send(Method::POST, "user_sources", &[], Some(json!(sources)))
                .await
                .context("creating bench sources")?;
        }
        Ok(())
    }

    async fn remove_bench_users(&self) -> anyhow::Result<()> {
        self.send(
            Method::DELETE,
            "users",
            &[("display_name", &format!("eq.{MARK}"))],
            None,
        )
        .await
        .context("removing bench users")
    }
}
