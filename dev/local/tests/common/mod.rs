//! `spawn_app()`: every test gets its own queue, dead-letter queue, jobs table and secrets in
//! moto, its own SmashRun sandbox on a random port, its own API server and worker poller, and
//! its own linked user, all against the real local stack (PostgREST over PostgreSQL, moto).

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use smashrun_sandbox::{RunningSandbox, SandboxConfig, Summary};
use stk_adapters::Adapters;
use stk_core::UserId;
use stk_core::sync::EngineSettings;
use stk_local::cli::local_settings;
use stk_local::stack_env::{Checkout, StackEnv};
use stk_local::{Poller, PollerSettings, ResourceNames, SecretValues, provision, seed_user};
use stk_protocol::{JobStatus, SyncJob};
use tokio::sync::watch;

pub struct TestApp {
    pub api_url: String,
    pub api_key: String,
    pub user_id: UserId,
    pub sandbox: RunningSandbox,
    pub adapters: Adapters,
    pub aws: aws_config::SdkConfig,
    pub names: ResourceNames,
    pub http: reqwest::Client,
    stop: watch::Sender<bool>,
}

pub struct Options {
    pub sandbox: SandboxConfig,
    /// Run the worker poller (off to look at queued jobs).
    pub worker: bool,
    /// The worker's engine: production's, with waits scaled down to fit a test.
    pub engine: EngineSettings,
    /// A PostgREST of the test's own instead of the stack's (to stop and start it).
    pub supabase_url: Option<String>,
}

/// Production's engine settings with every wait in seconds, so faults play out within a test.
pub fn test_engine() -> EngineSettings {
    EngineSettings {
        retry_min_delay: Duration::from_millis(20),
        retry_max_delay: Duration::from_millis(100),
        fault_backoff: Duration::from_secs(1),
        max_fault_backoff: Duration::from_secs(2),
        ..EngineSettings::default()
    }
}

impl Default for Options {
    fn default() -> Self {
        Self {
            sandbox: sandbox_config(smashrun_sandbox::DataSource::Generated {
                profile: smashrun_sandbox::Profile::Small,
                seed: 7,
            }),
            worker: true,
            engine: test_engine(),
            supabase_url: None,
        }
    }
}

/// A sandbox runner of this test's own (SmashRun user ids must not collide across tests).
pub fn sandbox_config(data: smashrun_sandbox::DataSource) -> SandboxConfig {
    SandboxConfig {
        user_id: i64::from(uuid::Uuid::new_v4().as_fields().0 & 0x7fff_ffff),
        data,
        ..SandboxConfig::default()
    }
}

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TEST_LOG")
                .unwrap_or_else(|_| "off".into()),
        )
        .with_test_writer()
        .with_ansi(false)
        .try_init();
}

/// Runs `sql` as the database's owner and returns the rows, one line each.
pub fn psql(sql: &str) -> Vec<String> {
    let url = stack_env().get("DATABASE_URL").unwrap().to_owned();
    stk_local::psql::run(&url, sql)
        .unwrap()
        .rows
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A login session opened the way `stk` opens one, with the secret it keeps.
pub async fn open_login_session(app: &TestApp) -> (stk_protocol::LoginSession, String) {
    use sha2::Digest as _;
    let secret = uuid::Uuid::new_v4().simple().to_string();
    let response = app
        .http
        .post(app.url("/auth/sessions"))
        .json(&serde_json::json!({
            "secret_sha256": hex::encode(sha2::Sha256::digest(secret.as_bytes()))
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    (response.json().await.unwrap(), secret)
}

/// The stack of the checkout the tests run in (cargo runs them in the package's folder).
pub fn stack_env() -> StackEnv {
    StackEnv::from_process().expect("the tests run inside the checkout")
}

pub fn checkout_root() -> PathBuf {
    Checkout::from_process()
        .expect("the tests run inside the checkout")
        .root()
        .to_owned()
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

pub async fn spawn_app_with(options: Options) -> TestApp {
    init_tracing();
    let env = stack_env();
    let aws = env
        .aws()
        .await
        .expect("the local stack is not up: run `scripts/stack.sh up`");
    let sandbox = smashrun_sandbox::spawn(options.sandbox.clone())
        .await
        .expect("sandbox starts");
    let names = ResourceNames::suffixed(&uuid::Uuid::new_v4().simple().to_string()[..12]);
    // The API's address first: SmashRun's redirect URI in the secret is its /auth/callback.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_url = format!("http://{}", listener.local_addr().unwrap());
    let secrets = SecretValues {
        smashrun_client_id: options.sandbox.client_id.clone(),
        smashrun_client_secret: options.sandbox.client_secret.clone(),
        smashrun_redirect_uri: format!("{api_url}/auth/callback"),
        supabase_url: options
            .supabase_url
            .clone()
            .unwrap_or_else(|| env.get("SUPABASE_URL").unwrap().to_owned()),
        supabase_service_role_key: env.get("SUPABASE_SERVICE_ROLE_KEY").unwrap().to_owned(),
        token_key: None,
    };
    // A short visibility timeout so a reported failure comes back within the test.
    let provisioned = provision(&aws, &names, &secrets, Duration::from_secs(2))
        .await
        .expect("provisioning against moto");
    let settings = local_settings(&names, &provisioned.queue_url, &sandbox.base_url).unwrap();
    let adapters = Adapters::build(settings, &aws).unwrap();

    let router = stk_local::cli::local_router(&adapters);
    tokio::spawn(async move { axum::serve(listener, router).await });

    let (stop, stopped) = watch::channel(false);
    if options.worker {
        let worker = Arc::new(stk_worker::Worker::from_adapters(
            &adapters,
            options.engine.clone(),
        ));
        let sqs = aws_sdk_sqs::Client::new(&aws);
        let poller = Poller::new(
            sqs.clone(),
            provisioned.queue_url.clone(),
            PollerSettings::default(),
        );
        let dead_letters = Poller::new(
            sqs,
            provisioned.dead_letter_queue_url.clone(),
            PollerSettings::default(),
        );
        let (dead_worker, dead_stopped) = (worker.clone(), stopped.clone());
        tokio::spawn(async move { dead_letters.run(dead_worker.as_ref(), dead_stopped).await });
        tokio::spawn(async move { poller.run(worker.as_ref(), stopped).await });
    }

    let seeded = seed_user(&adapters)
        .await
        .expect("seeding a user through the sandbox's oauth");
    TestApp {
        api_url,
        api_key: seeded.api_key.expose().to_owned(),
        user_id: seeded.user_id,
        sandbox,
        adapters,
        aws,
        names,
        http: reqwest::Client::new(),
        stop,
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.api_url)
    }

    pub async fn post_sync(&self, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url("/sync"))
            .bearer_auth(&self.api_key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn start_sync(&self, body: &Value) -> SyncJob {
        let response = self.post_sync(body).await;
        assert_eq!(response.status(), 202, "POST /sync should queue a job");
        response.json().await.unwrap()
    }

    pub async fn get_job(&self, id: &str) -> SyncJob {
        let response = self.get_raw(&format!("/sync/{id}")).await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// Polls until the job finishes (bounded).
    pub async fn wait_for(&self, id: &str) -> SyncJob {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let job = self.get_job(id).await;
            if job.status.is_finished() {
                return job;
            }
            assert!(
                Instant::now() < deadline,
                "job {id} did not finish: {job:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn sync_and_wait(&self, body: &Value) -> SyncJob {
        let job = self.start_sync(body).await;
        let done = self.wait_for(&job.id).await;
        assert_eq!(done.status, JobStatus::Succeeded, "{done:?}");
        done
    }

    pub async fn sandbox_summary(&self) -> Summary {
        self.sandbox.sandbox.summary()
    }

    pub async fn sandbox_admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.sandbox.base_url));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        assert!(
            response.status().is_success(),
            "sandbox admin {path}: {}",
            response.status()
        );
        response.json().await.unwrap_or(Value::Null)
    }

    /// A request on this user's rows of `runs`, straight to PostgREST with the service key.
    pub fn runs_table(&self, method: reqwest::Method) -> reqwest::RequestBuilder {
        let env = stack_env();
        self.http
            .request(method, format!("{}/runs", env.get("SUPABASE_URL").unwrap()))
            .bearer_auth(env.get("SUPABASE_SERVICE_ROLE_KEY").unwrap())
            .query(&[("user_id", format!("eq.{}", self.user_id))])
    }

    /// The stored row of one activity.
    pub async fn stored_run(&self, activity_id: i64) -> Option<Value> {
        let rows: Vec<Value> = self
            .runs_table(reqwest::Method::GET)
            .query(&[("source_activity_id", format!("eq.{activity_id}"))])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        rows.into_iter().next()
    }

    /// An authenticated GET of the API, whatever it answers.
    pub async fn get_raw(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(&self.api_key)
            .send()
            .await
            .unwrap()
    }

    /// A CLI configuration folder holding this user's key.
    pub fn cli_config(&self) -> tempfile::TempDir {
        let config = tempfile::tempdir().unwrap();
        stk_local::write_cli_config(
            config.path(),
            &self.api_url,
            &stk_core::auth::ApiKey::parse(&self.api_key).unwrap(),
        )
        .unwrap();
        config
    }

    /// Runs the real binary off the async runtime, so the in-process API keeps serving it.
    pub async fn run_stk(&self, config: &std::path::Path, args: &[&str]) -> std::process::Output {
        let mut command = std::process::Command::new(stk_bin());
        command
            .args(args)
            .env("API_BASE_URL", &self.api_url)
            .env("STK_CONFIG_DIR", config)
            .env("STK_POLL_INTERVAL_MS", "100")
            .env_remove("STK_API_KEY");
        tokio::task::spawn_blocking(move || command.output().unwrap())
            .await
            .unwrap()
    }
}

/// The real `stk` binary, built by `make test` before the tests run.
pub fn stk_bin() -> PathBuf {
    if let Ok(path) = std::env::var("STK_BIN") {
        return path.into();
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map_or_else(|_| checkout_root().join("target"), PathBuf::from);
    let bin = target.join("debug/stk");
    assert!(
        bin.exists(),
        "{} is missing: build it with `cargo build -p stk` (make test does)",
        bin.display()
    );
    bin
}
