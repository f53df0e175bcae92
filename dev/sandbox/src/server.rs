//! The shared sandbox state and the server around it.

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use anyhow::Context as _;
use axum::Router;
use serde_json::Value;
use time::{Date, Duration, OffsetDateTime, PrimitiveDateTime};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::activity::{Activity, Fields, FieldsList};
use crate::auth::AuthState;
use crate::config::{DataSource, RefreshPolicy, SandboxConfig};
use crate::error::SandboxError;
use crate::faults::{Counters, FaultState};
use crate::stats::{self, Summary};
use crate::store::Store;
use crate::{generate, http, timefmt};

/// Settings that do not change while the sandbox runs.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    pub(crate) user_id: i64,
    pub(crate) user_name: String,
    pub(crate) first_name: String,
    pub(crate) last_name: String,
    pub(crate) today: Option<Date>,
    pub(crate) expires_in: u64,
    pub(crate) refresh_policy: RefreshPolicy,
    pub(crate) auto_approve: bool,
    pub(crate) registration: PrimitiveDateTime,
}

/// Everything that changes, behind one lock (requests hold it briefly and never across an `await`).
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) store: Store,
    pub(crate) auth: AuthState,
    pub(crate) faults: FaultState,
    pub(crate) counters: Counters,
}

struct Inner {
    settings: Settings,
    /// Added to the system clock (milliseconds), moved by `/admin/clock/advance`.
    clock_offset_ms: AtomicI64,
    state: Mutex<State>,
}

/// A simulated SmashRun account and API. Cheap to clone: clones share the same state.
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

impl fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sandbox")
            .field("user_id", &self.inner.settings.user_id)
            .field("client_id", &self.inner.settings.client_id)
            .field("activities", &self.lock().store.len())
            .finish_non_exhaustive()
    }
}

fn load(data: DataSource, today: Date) -> Result<Vec<Fields>, SandboxError> {
    match data {
        DataSource::Generated { profile, seed } => Ok(generate::generate(profile, seed, today)),
        DataSource::File(path) => {
            let text = std::fs::read_to_string(&path).map_err(|source| SandboxError::ReadFile {
                path: path.clone(),
                source,
            })?;
            let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
            let list: FieldsList = serde_json::from_str(text)
                .map_err(|source| SandboxError::ParseFile { path, source })?;
            Ok(list.0)
        }
        DataSource::Activities(values) => values
            .into_iter()
            .enumerate()
            .map(|(index, value)| match value {
                Value::Object(map) => Ok(Fields::from_map(map)),
                other => Err(SandboxError::InvalidActivity {
                    index,
                    id: "?".into(),
                    reason: format!("expected a JSON object, found {other}"),
                }),
            })
            .collect(),
    }
}

fn capitalized(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

impl Sandbox {
    /// Loads or generates the activities. Generating the lifetime profile takes a moment: call it from
    /// `spawn_blocking` in async code (as [`spawn`] does).
    pub fn new(config: SandboxConfig) -> Result<Self, SandboxError> {
        if config.client_id.trim().is_empty() || config.client_secret.is_empty() {
            return Err(SandboxError::Config(
                "client_id and client_secret must not be empty".into(),
            ));
        }
        let today = config
            .today
            .unwrap_or_else(|| OffsetDateTime::now_utc().date());
        let mut activities = Vec::new();
        for (index, fields) in load(config.data, today)?.into_iter().enumerate() {
            let id = fields
                .get("activityId")
                .map_or_else(|| "?".to_owned(), Value::to_string);
            activities.push(
                Activity::from_fields(fields).map_err(|reason| SandboxError::InvalidActivity {
                    index,
                    id,
                    reason,
                })?,
            );
        }
        let registration = activities
            .iter()
            .map(|a| a.created)
            .min()
            .unwrap_or_else(|| timefmt::to_utc_wall(OffsetDateTime::now_utc()));
        let store = Store::new(activities).map_err(SandboxError::DuplicateActivityId)?;
        let settings = Settings {
            first_name: capitalized(&config.user_name),
            last_name: "Sandbox".into(),
            client_id: config.client_id,
            client_secret: config.client_secret,
            user_id: config.user_id,
            user_name: config.user_name,
            today: config.today,
            expires_in: config.expires_in,
            refresh_policy: config.refresh_policy,
            auto_approve: config.auto_approve,
            registration: timefmt::to_sql_datetime(registration),
        };
        let state = State {
            store,
            auth: AuthState::new(),
            faults: FaultState::default(),
            counters: Counters::default(),
        };
        Ok(Self {
            inner: Arc::new(Inner {
                settings,
                clock_offset_ms: AtomicI64::new(0),
                state: Mutex::new(state),
            }),
        })
    }

    /// The HTTP routes (SmashRun's and `/admin`), sharing this sandbox's state.
    pub fn router(&self) -> Router {
        http::router(self.clone())
    }

    /// Counts and streaks of the current activities.
    pub fn summary(&self) -> Summary {
        let today = self.today();
        stats::summary(&self.lock().store, self.inner.settings.user_id, today)
    }

    /// How many activities the sandbox holds now.
    pub fn activity_count(&self) -> usize {
        self.lock().store.len()
    }

    /// "Today" as the sandbox sees it: the configured date, else the UTC date of its clock.
    pub fn today(&self) -> Date {
        self.inner
            .settings
            .today
            .unwrap_or_else(|| self.now().date())
    }

    pub(crate) fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-written in a way that matters for a test
        // double, so keep serving.
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The sandbox clock: system UTC time plus the admin offset.
    pub(crate) fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc() + self.clock_offset()
    }

    pub(crate) fn clock_offset(&self) -> Duration {
        Duration::milliseconds(self.inner.clock_offset_ms.load(Ordering::Relaxed))
    }

    pub(crate) fn advance_clock(&self, by: Duration) {
        let ms = i64::try_from(by.whole_milliseconds()).unwrap_or(i64::MAX);
        self.inner.clock_offset_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

/// A sandbox served on `127.0.0.1` by a background task; dropping it stops the server.
#[derive(Debug)]
pub struct RunningSandbox {
    /// `http://127.0.0.1:PORT`, no trailing slash. Use it for the REST base (`{base_url}/v1`) and the OAuth URLs
    /// (`{base_url}/oauth2/authenticate`, `{base_url}/oauth2/token`).
    pub base_url: String,
    /// The state behind the server.
    pub sandbox: Sandbox,
    addr: SocketAddr,
    handle: JoinHandle<std::io::Result<()>>,
}

impl RunningSandbox {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `base_url` followed by `path` (which should start with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Stops the server and waits for its task to end.
    pub async fn shutdown(mut self) {
        self.handle.abort();
        let _ = (&mut self.handle).await;
    }
}

impl Drop for RunningSandbox {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

/// Builds a sandbox (generation runs on a blocking thread), binds `127.0.0.1:0` and serves it in a tokio task.
pub async fn spawn(config: SandboxConfig) -> anyhow::Result<RunningSandbox> {
    let sandbox = tokio::task::spawn_blocking(move || Sandbox::new(config))
        .await
        .context("the sandbox builder panicked")??;
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .context("failed to bind 127.0.0.1:0")?;
    let addr = listener
        .local_addr()
        .context("failed to read the bound address")?;
    let router = sandbox.router();
    let handle = tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(RunningSandbox {
        base_url: format!("http://{addr}"),
        sandbox,
        addr,
        handle,
    })
}
