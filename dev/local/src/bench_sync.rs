//! `stk-local bench-sync`: a full sync of the 20,614-run lifetime history through the real
//! engine, PostgREST and PostgreSQL, moto's DynamoDB and the sandbox over HTTP, into an empty
//! store; once as fast as the sandbox answers, once with 100 ms added to each SmashRun answer.
//! Prints the wall time next to the sum of the SmashRun round trips: the engine overlaps its
//! store writes with the next fetch, so with a slow SmashRun the two should nearly meet. Each
//! pass's runner is removed afterwards, so repeated runs measure against the same store.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use secrecy::SecretString;
use serde_json::{Value, json};
use smashrun_sandbox::{DataSource, Profile, SandboxConfig};
use stk_adapters::Adapters;
use stk_core::SmashrunError;
use stk_core::clock::SystemClock;
use stk_core::job::{Job, JobMessage, SyncSpec};
use stk_core::ports::{JobRepository, SmashrunApi, SmashrunUser};
use stk_core::sync::{Delivery, EnginePorts, EngineSettings, Outcome, SyncEngine};
use stk_core::tokens::TokenGrant;
use stk_protocol::{SyncKind, SyncRequestBody};
use time::OffsetDateTime;

use crate::cli::local_settings;
use crate::stack_env::StackEnv;
use crate::{ResourceNames, SecretValues, provision, seed_user};

/// SmashRun, with the time spent in each call added up.
#[derive(Debug)]
struct Timed {
    inner: Arc<dyn SmashrunApi>,
    nanos: AtomicU64,
    calls: AtomicU64,
}

impl Timed {
    async fn time<T>(&self, call: impl Future<Output = T>) -> T {
        let started = Instant::now();
        let out = call.await;
        let spent = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_add(spent, Ordering::Relaxed);
        self.calls.fetch_add(1, Ordering::Relaxed);
        out
    }
}

#[async_trait]
impl SmashrunApi for Timed {
    async fn search_page(
        &self,
        token: &SecretString,
        page: u32,
        count: u32,
        since: Option<OffsetDateTime>,
    ) -> Result<Vec<Value>, SmashrunError> {
        self.time(self.inner.search_page(token, page, count, since))
            .await
    }
    async fn list_ids(&self, token: &SecretString) -> Result<Vec<i64>, SmashrunError> {
        self.time(self.inner.list_ids(token)).await
    }
    async fn activity(
        &self,
        token: &SecretString,
        id: i64,
    ) -> Result<Option<Value>, SmashrunError> {
        self.time(self.inner.activity(token, id)).await
    }
    async fn run_count(&self, token: &SecretString) -> Result<Option<u64>, SmashrunError> {
        self.time(self.inner.run_count(token)).await
    }
    async fn refresh(&self, token: &SecretString) -> Result<TokenGrant, SmashrunError> {
        self.time(self.inner.refresh(token)).await
    }
    async fn authorize_url(&self, state: &str) -> Result<String, SmashrunError> {
        self.inner.authorize_url(state).await
    }
    async fn exchange_code(&self, code: &str) -> Result<TokenGrant, SmashrunError> {
        self.inner.exchange_code(code).await
    }
    async fn user_info(&self, token: &SecretString) -> Result<SmashrunUser, SmashrunError> {
        self.inner.user_info(token).await
    }
}

/// The run store, with the time spent in upserts added up.
#[derive(Debug)]
struct TimedStore {
    inner: Arc<stk_adapters::supabase::Supabase>,
    nanos: AtomicU64,
}

#[async_trait]
impl stk_core::ports::RunStore for TimedStore {
    async fn upsert_runs(
        &self,
        user: stk_core::UserId,
        runs: &[stk_core::activity::Run],
        job: stk_core::JobId,
        checkpoint: &stk_core::job::SourceCheckpoint,
    ) -> Result<stk_core::ports::UpsertCounts, stk_core::StoreError> {
        let started = Instant::now();
        let out = self.inner.upsert_runs(user, runs, job, checkpoint).await;
        let spent = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_add(spent, Ordering::Relaxed);
        out
    }
    async fn reconcile(
        &self,
        user: stk_core::UserId,
        listed: &[i64],
        guard: Option<stk_core::ports::DeletionGuard>,
        max_absent: u32,
        job: stk_core::JobId,
    ) -> Result<stk_core::ports::Reconciled, stk_core::StoreError> {
        self.inner
            .reconcile(user, listed, guard, max_absent, job)
            .await
    }
    async fn job_counts(
        &self,
        user: stk_core::UserId,
        job: stk_core::JobId,
    ) -> Result<(u64, u64), stk_core::StoreError> {
        self.inner.job_counts(user, job).await
    }
}

pub async fn bench_sync(env: &StackEnv, secrets: &SecretValues) -> anyhow::Result<()> {
    let aws = env.aws().await?;
    println!("full sync of the lifetime history into an empty store, release build");
    for delay_ms in [0_u64, 100] {
        // A sandbox account of its own each time: a new user, an empty store.
        let sandbox = smashrun_sandbox::spawn(SandboxConfig {
            data: DataSource::Generated {
                profile: Profile::Lifetime,
                seed: 42,
            },
            user_id: 900_000_000
                + i64::from(std::process::id()) * 10
                + i64::try_from(delay_ms).unwrap_or(0) / 100,
            ..SandboxConfig::default()
        })
        .await?;
        let names = ResourceNames::suffixed(&format!("benchsync{}{delay_ms}", std::process::id()));
        let provisioned = provision(&aws, &names, secrets, Duration::from_secs(30)).await?;
        let adapters = Adapters::build(
            local_settings(&names, &provisioned.queue_url, &sandbox.base_url)?,
            &aws,
        )?;
        let seeded = seed_user(&adapters).await?;
        reqwest::Client::new()
            .post(format!("{}/admin/faults", sandbox.base_url))
            .json(&json!({ "delay_ms": delay_ms }))
            .send()
            .await?
            .error_for_status()?;
        let timed = Arc::new(Timed {
            inner: adapters.smashrun.clone(),
            nanos: AtomicU64::new(0),
            calls: AtomicU64::new(0),
        });
        let store_timed = Arc::new(TimedStore {
            inner: adapters.store.clone(),
            nanos: AtomicU64::new(0),
        });
        let engine = SyncEngine::new(
            EnginePorts {
                jobs: adapters.jobs.clone(),
                smashrun: timed.clone(),
                runs: store_timed.clone(),
                sources: adapters.store.clone(),
                queue: adapters.queue.clone(),
                clock: Arc::new(SystemClock),
            },
            EngineSettings::default(),
            "bench".into(),
        );
        let spec = SyncSpec::parse(SyncRequestBody {
            full: Some(true),
            ..SyncRequestBody::default()
        })?;
        debug_assert_eq!(spec.kind, SyncKind::Full);
        let job = Job::new(seeded.user_id, spec, OffsetDateTime::now_utc());
        adapters.jobs.create(&job, None).await?;
        let message = JobMessage {
            job_id: job.id,
            user_id: seeded.user_id,
        };
        let started = Instant::now();
        let outcome = engine.handle(message, &Delivery::default()).await;
        let wall = started.elapsed();
        anyhow::ensure!(
            matches!(outcome, Ok(Outcome::Succeeded)),
            "the sync did not succeed: {outcome:?}"
        );
        let done = adapters
            .jobs
            .get(job.id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("the job vanished"))?;
        let round_trips = Duration::from_nanos(timed.nanos.load(Ordering::Relaxed));
        println!(
            "  SmashRun delay {delay_ms:>3} ms: {:>6.2} s wall, {:>6.2} s in {} SmashRun round trips ({:.2}x), {:>6.2} s in upserts, {} runs inserted, {} store requests",
            wall.as_secs_f64(),
            round_trips.as_secs_f64(),
            timed.calls.load(Ordering::Relaxed),
            wall.as_secs_f64() / round_trips.as_secs_f64().max(f64::EPSILON),
            Duration::from_nanos(store_timed.nanos.load(Ordering::Relaxed)).as_secs_f64(),
            done.progress.runs_inserted,
            done.progress.store_requests,
        );
        // Its runs go again, so the next run starts from the same store.
        crate::psql::run(
            env.get("DATABASE_URL")?,
            &format!("delete from public.users where id = '{}'", seeded.user_id),
        )?;
    }
    Ok(())
}
