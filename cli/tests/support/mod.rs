//! A stub of the sync API (axum, on 127.0.0.1:0) and helpers that run the real `stk` binary.
//!
//! The stub implements the contract with canned answers and records every request, so tests can
//! check what the CLI sent. It exists only for the CLI's own tests.

#![allow(clippy::unwrap_used, dead_code)]

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use stk_protocol::{
    ErrorBody, ErrorDetail, JobError, JobProgress, JobStatus, SyncJob, SyncJobList, SyncKind,
};

/// The key the stub accepts. Tests check it never shows up in any output.
pub const KEY: &str = "stk_test_3q9Zr7Lx0PfN2vKc8WmYh4TgB6sDa1Ue";

/// One canned HTTP answer.
#[derive(Debug, Clone)]
pub struct Canned {
    pub status: u16,
    pub body: String,
    pub json: bool,
}

impl Canned {
    pub fn json<T: Serialize>(status: u16, value: &T) -> Self {
        Self {
            status,
            body: serde_json::to_string(value).unwrap(),
            json: true,
        }
    }

    /// `tests/fixtures/NAME.json` as a 200.
    pub fn fixture(name: &str) -> Self {
        Self {
            status: 200,
            body: fixture_text(name),
            json: true,
        }
    }

    pub fn text(status: u16, body: &str) -> Self {
        Self {
            status,
            body: body.to_owned(),
            json: false,
        }
    }

    pub fn error(status: u16, code: &str, message: &str, request_id: Option<&str>) -> Self {
        Self::json(
            status,
            &ErrorBody {
                error: ErrorDetail {
                    code: code.into(),
                    message: message.into(),
                    request_id: request_id.map(Into::into),
                },
            },
        )
    }
}

/// A request as the stub saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// The query string, without `?`.
    pub query: Option<String>,
    pub authorization: Option<String>,
    pub idempotency_key: Option<String>,
    pub content_type: Option<String>,
    pub body: String,
}

#[derive(Debug, Default)]
struct StubState {
    post: Option<Canned>,
    list: Option<Canned>,
    /// Answers to `GET /sync/{id}`, in order; the last one repeats.
    jobs: HashMap<String, VecDeque<Canned>>,
    /// Answers to any other `(METHOD, /path)`: the views and settings.
    routes: HashMap<(String, String), Canned>,
    requests: Vec<Recorded>,
}

/// A running stub API.
#[derive(Debug, Clone)]
pub struct Stub {
    pub url: String,
    state: Arc<Mutex<StubState>>,
}

impl Stub {
    /// Starts a stub on a random port, in its own thread and runtime.
    pub fn start() -> Self {
        let state = Arc::new(Mutex::new(StubState::default()));
        let (tx, rx) = std::sync::mpsc::channel();
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                let app = Router::new().fallback(handle).with_state(shared);
                axum::serve(listener, app).await.unwrap();
            });
        });
        let addr: SocketAddr = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        Self {
            url: format!("http://{addr}"),
            state,
        }
    }

    pub fn on_post(&self, answer: Canned) {
        self.state.lock().unwrap().post = Some(answer);
    }

    pub fn on_list(&self, answer: Canned) {
        self.state.lock().unwrap().list = Some(answer);
    }

    /// Successive answers to `GET /sync/{id}`; the last one repeats.
    pub fn on_job(&self, id: &str, answers: Vec<Canned>) {
        self.state
            .lock()
            .unwrap()
            .jobs
            .insert(id.to_owned(), answers.into());
    }

    /// The answer to `method path` (any query string), e.g. `("GET", "/streak")`.
    pub fn on(&self, method: &str, path: &str, answer: Canned) {
        self.state
            .lock()
            .unwrap()
            .routes
            .insert((method.to_owned(), path.to_owned()), answer);
    }

    /// Answers `GET path` with a fixture from `tests/fixtures/NAME.json`.
    pub fn on_get_fixture(&self, path: &str, name: &str) {
        self.on("GET", path, Canned::fixture(name));
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Waits until at least `n` requests were made to `path`.
    pub fn wait_for_requests(&self, path: &str, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.requests().iter().filter(|r| r.path == path).count() < n {
            assert!(
                Instant::now() < deadline,
                "no {n} requests to {path} in time"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

async fn handle(
    State(state): State<Arc<Mutex<StubState>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let recorded = Recorded {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        authorization: header("authorization"),
        idempotency_key: header("idempotency-key"),
        content_type: header("content-type"),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let mut state = state.lock().unwrap();
    let authorized = recorded.authorization.as_deref() == Some(&format!("Bearer {KEY}"));
    let path = recorded.path.clone();
    state.requests.push(recorded);

    let answer = if !authorized {
        Canned::error(
            401,
            "unauthorized",
            "missing or invalid API key",
            Some("req-401"),
        )
    } else if let Some(answer) = state.routes.get(&(method.to_string(), path.clone())) {
        answer.clone()
    } else if method == Method::POST && path == "/sync" {
        state
            .post
            .clone()
            .unwrap_or_else(|| Canned::json(202, &job("job-1", JobStatus::Queued)))
    } else if method == Method::GET && path == "/sync" {
        state
            .list
            .clone()
            .unwrap_or_else(|| Canned::json(200, &SyncJobList { jobs: vec![] }))
    } else if let (true, Some(id)) = (method == Method::GET, path.strip_prefix("/sync/")) {
        match state.jobs.get_mut(id) {
            Some(answers) if answers.len() > 1 => answers.pop_front().unwrap(),
            Some(answers) => answers.front().cloned().unwrap(),
            None => Canned::error(404, "not_found", "job not found", Some("req-404")),
        }
    } else {
        Canned::error(404, "not_found", "no such route", None)
    };
    let content_type = if answer.json {
        "application/json"
    } else {
        "text/plain"
    };
    (
        StatusCode::from_u16(answer.status).unwrap(),
        [(header::CONTENT_TYPE, content_type)],
        answer.body,
    )
        .into_response()
}

/// The text of `tests/fixtures/NAME.json`: API answers checked in as JSON.
pub fn fixture_text(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{name}.json"));
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// A fixture decoded as the protocol type it stands for (so fixtures cannot drift from it).
pub fn fixture<T: serde::de::DeserializeOwned>(name: &str) -> T {
    serde_json::from_str(&fixture_text(name))
        .unwrap_or_else(|err| panic!("fixture {name} does not match its type: {err}"))
}

/// Compares `actual` with `tests/snapshots/NAME.txt`, exactly. With `UPDATE_SNAPSHOTS=1` in the
/// environment, (re)writes the file instead.
#[track_caller]
pub fn assert_snapshot(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(format!("{name}.txt"));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|err| {
        panic!(
            "no snapshot {} ({err}): run with UPDATE_SNAPSHOTS=1 to create it; output was:\n{actual}",
            path.display()
        )
    });
    if expected != actual {
        let first_difference = expected
            .lines()
            .zip(actual.lines())
            .position(|(e, a)| e != a)
            .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
        panic!(
            "output differs from {} (first at line {}); if the change is intended, rerun with UPDATE_SNAPSHOTS=1\n--- expected ---\n{expected}--- actual ---\n{actual}",
            path.display(),
            first_difference + 1
        );
    }
}

/// A realistic job.
pub fn job(id: &str, status: JobStatus) -> SyncJob {
    let started = !matches!(status, JobStatus::Queued);
    SyncJob {
        id: id.to_owned(),
        status,
        kind: SyncKind::Incremental,
        since: None,
        until: None,
        created_at: "2026-03-01T14:02:00Z".into(),
        started_at: started.then(|| "2026-03-01T14:02:01.200Z".into()),
        finished_at: status
            .is_finished()
            .then(|| "2026-03-01T14:02:12.300Z".into()),
        attempts: u32::from(started),
        progress: JobProgress::default(),
        error: None,
        waiting: None,
    }
}

pub fn progress(pages: u32, seen: u64, inserted: u64, updated: u64, unchanged: u64) -> JobProgress {
    JobProgress {
        pages,
        activities_seen: seen,
        runs_inserted: inserted,
        runs_updated: updated,
        runs_unchanged: unchanged,
        activities_rejected: 0,
        expected_total: Some(4812),
        smashrun_requests: u64::from(pages),
        store_requests: u64::from(pages),
        ..JobProgress::default()
    }
}

/// A full sync of 4,812 activities: queued, running twice, then succeeded.
pub fn full_sync_answers(id: &str) -> Vec<Canned> {
    let mut queued = job(id, JobStatus::Queued);
    queued.kind = SyncKind::Full;
    let mut running_1 = queued.clone();
    running_1.status = JobStatus::Running;
    running_1.started_at = Some("2026-03-01T14:02:01.200Z".into());
    running_1.attempts = 1;
    running_1.progress = progress(10, 1000, 1000, 0, 0);
    let mut running_2 = running_1.clone();
    running_2.progress = progress(30, 3000, 3000, 0, 0);
    let mut done = running_2.clone();
    done.status = JobStatus::Succeeded;
    done.finished_at = Some("2026-03-01T14:02:12.300Z".into());
    done.progress = progress(49, 4812, 4812, 0, 0);
    [queued, running_1, running_2, done]
        .iter()
        .map(|j| Canned::json(200, j))
        .collect()
}

pub fn failed_job(id: &str) -> SyncJob {
    let mut failed = job(id, JobStatus::Failed);
    failed.attempts = 5;
    failed.progress = progress(3, 300, 120, 2, 178);
    failed.error = Some(JobError {
        code: "smashrun_auth".into(),
        message: "SmashRun refused the refresh token: run `stk auth login`".into(),
    });
    failed
}

/// `config.json` text holding `key` for the API at `url` only.
pub fn key_config(url: &str, key: &str) -> String {
    serde_json::json!({ "apis": { url.trim_end_matches('/'): { "api_key": key } } }).to_string()
}

/// A temporary working directory and config directory holding a 0600 config with [`KEY`] for
/// whichever API a command is pointed at (keys are kept per API).
#[derive(Debug)]
pub struct Sandbox {
    pub tmp: tempfile::TempDir,
    key_for_any_api: std::cell::Cell<bool>,
}

impl Sandbox {
    pub fn new() -> Self {
        let sandbox = Self::empty();
        sandbox.write_config(r#"{"theme": "dark"}"#);
        sandbox.key_for_any_api.set(true);
        sandbox
    }

    /// No config file at all.
    pub fn empty() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("work")).unwrap();
        Self {
            tmp,
            key_for_any_api: std::cell::Cell::new(false),
        }
    }

    /// Adds [`KEY`] for the API at `url` to the config file, keeping what else it holds.
    fn bind_key(&self, url: &str) {
        let path = self.config_dir().join("config.json");
        let mut config: serde_json::Value = std::fs::read_to_string(&path)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_else(|| serde_json::json!({}));
        config["apis"][url.trim_end_matches('/')] = serde_json::json!({ "api_key": KEY });
        // Rewritten in place, so a mode a test gave the file stays.
        std::fs::write(&path, config.to_string()).unwrap();
    }

    pub fn config_dir(&self) -> PathBuf {
        self.tmp.path().join("config")
    }

    pub fn work_dir(&self) -> PathBuf {
        self.tmp.path().join("work")
    }

    /// Writes exactly this config (no key is added for the API a command is pointed at).
    pub fn write_config(&self, text: &str) {
        self.key_for_any_api.set(false);
        std::fs::create_dir_all(self.config_dir()).unwrap();
        let path = self.config_dir().join("config.json");
        std::fs::write(&path, text).unwrap();
        set_mode(&path, 0o600);
    }

    /// `stk` with a clean environment: only the config dir and the API URL.
    pub fn stk(&self, api_url: &str) -> Command {
        if self.key_for_any_api.get() {
            self.bind_key(api_url);
        }
        let mut command = self.bare_stk();
        command
            .env("STK_CONFIG_DIR", self.config_dir())
            .env("API_BASE_URL", api_url);
        command
    }

    /// `stk` with an empty environment (no HOME either) in the work directory.
    pub fn bare_stk(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_stk"));
        command
            .env_clear()
            .env("STK_POLL_INTERVAL_MS", "10")
            .current_dir(self.work_dir())
            .stdin(Stdio::null());
        command
    }
}

#[cfg(unix)]
pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[cfg(not(unix))]
pub fn set_mode(_path: &Path, _mode: u32) {}

/// What a run of `stk` produced.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "exit code\n{self}");
        self
    }

    #[track_caller]
    pub fn stdout_has(&self, text: &str) -> &Self {
        assert!(self.stdout.contains(text), "stdout lacks {text:?}\n{self}");
        self
    }

    #[track_caller]
    pub fn stderr_has(&self, text: &str) -> &Self {
        assert!(self.stderr.contains(text), "stderr lacks {text:?}\n{self}");
        self
    }

    #[track_caller]
    pub fn stderr_lacks(&self, text: &str) -> &Self {
        assert!(!self.stderr.contains(text), "stderr has {text:?}\n{self}");
        self
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "--- code {} ---\n--- stdout ---\n{}--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `stk` to the end (with a generous timeout) and checks the API key never leaked.
#[track_caller]
pub fn exec(command: &mut Command, args: &[&str]) -> Run {
    let child = command
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    finish(child)
}

#[track_caller]
pub fn finish(child: Child) -> Run {
    let output = child.wait_with_output().unwrap();
    let run = Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    };
    assert!(
        !run.stdout.contains(KEY),
        "the API key leaked on stdout\n{run}"
    );
    assert!(
        !run.stderr.contains(KEY),
        "the API key leaked on stderr\n{run}"
    );
    run
}

/// An address nothing listens on.
pub fn unused_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}
