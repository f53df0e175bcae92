//! The real worker and scheduler binaries, run by `cargo lambda watch` (the Lambda runtime API
//! emulator) and invoked with event fixtures by `cargo lambda invoke`, against the local stack.
//! `make test` installs cargo-lambda (scripts/test.sh); without it these tests say how to get it.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;

use std::io::Write as _;
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Options, TestApp, checkout_root, spawn_app_with, stack_env};
use serde_json::{Value, json};
use stk_protocol::JobStatus;

/// `cargo lambda watch` for this test's resources; stopped (with the functions it started) on drop.
struct Watch {
    child: Child,
    port: u16,
    _env_file: tempfile::NamedTempFile,
}

impl Drop for Watch {
    fn drop(&mut self) {
        // SIGKILL for the emulator's whole session (it and the function processes it started).
        // A SIGTERM would run its shutdown, which signals far more than its own children.
        let _ = Command::new("pkill")
            .args(["-KILL", "-s", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Watch {
    fn start(app: &TestApp) -> Self {
        let stack = stack_env();
        let settings = &app.adapters.settings;
        let mut env_file = tempfile::NamedTempFile::new().unwrap();
        let vars = [
            (
                "AWS_ENDPOINT_URL",
                stack.get("AWS_ENDPOINT_URL").unwrap().to_owned(),
            ),
            (
                "AWS_REGION",
                stack.get_or("AWS_REGION", "us-east-1").to_owned(),
            ),
            ("AWS_ACCESS_KEY_ID", "test".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
            ("STK_QUEUE_URL", settings.queue_url.clone()),
            ("STK_JOBS_TABLE", settings.jobs_table.clone()),
            (
                "STK_SMASHRUN_SECRET_ID",
                settings.secret_ids.smashrun.clone(),
            ),
            (
                "STK_SUPABASE_SECRET_ID",
                settings.secret_ids.supabase.clone(),
            ),
            (
                "STK_TOKEN_KEY_SECRET_ID",
                settings.secret_ids.token_key.clone(),
            ),
            ("STK_SMASHRUN_API_URL", settings.smashrun.api.clone()),
            ("STK_SMASHRUN_AUTH_URL", settings.smashrun.auth.clone()),
            ("STK_NIGHTLY_SPREAD_SECS", "0".to_owned()),
            ("RUST_LOG", "info".to_owned()),
        ];
        for (k, v) in vars {
            writeln!(env_file, "{k}={v}").unwrap();
        }
        let port = free_port();
        // A session of its own: the emulator signals its whole process group when it stops, and
        // must never reach the caller's.
        let child = Command::new("setsid")
            .args([
                "cargo",
                "lambda",
                "watch",
                "--ignore-changes",
                "--invoke-address",
                "127.0.0.1",
            ])
            .args(["--invoke-port", &port.to_string()])
            .arg("--env-file")
            .arg(env_file.path())
            .current_dir(checkout_root())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cargo-lambda is missing: `pip install cargo-lambda` (make test installs it)");
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "cargo lambda watch did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Self {
            child,
            port,
            _env_file: env_file,
        }
    }

    /// Invokes `function` with `event` and returns its JSON answer.
    async fn invoke(&self, function: &str, event: &Value) -> Value {
        let mut data = tempfile::NamedTempFile::new().unwrap();
        data.write_all(event.to_string().as_bytes()).unwrap();
        let mut command = Command::new("cargo");
        command
            .args(["lambda", "invoke", "--invoke-address", "127.0.0.1"])
            .args([
                "--invoke-port",
                &self.port.to_string(),
                "--output-format",
                "json",
            ])
            .arg("--data-file")
            .arg(data.path())
            .arg(function)
            .current_dir(checkout_root());
        let output = tokio::task::spawn_blocking(move || command.output().unwrap())
            .await
            .unwrap();
        drop(data);
        assert!(
            output.status.success(),
            "invoking {function} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!(
                "{function} answered {}: {e}",
                String::from_utf8_lossy(&output.stdout)
            )
        })
    }
}

/// The checked-in SQS fixture with its records' bodies replaced.
fn sqs_event(bodies: &[String]) -> Value {
    let mut event: Value = serde_json::from_str(include_str!(
        "../../../lambdas/worker/tests/fixtures/sqs_batch.json"
    ))
    .unwrap();
    let template = event["Records"][0].clone();
    event["Records"] = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            let mut record = template.clone();
            record["messageId"] = json!(format!("msg-{i}"));
            record["body"] = json!(body);
            record
        })
        .collect();
    event
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_binary_syncs_a_job_and_reports_only_bad_records() {
    let app = spawn_app_with(Options {
        worker: false,
        ..Options::default()
    })
    .await;
    let job = app.start_sync(&json!({})).await;
    let watch = Watch::start(&app);

    let good = json!({"job_id": job.id, "user_id": app.user_id}).to_string();
    let response = watch
        .invoke("stk-worker", &sqs_event(&[good, "not a job".to_owned()]))
        .await;
    assert_eq!(
        response["batchItemFailures"],
        json!([{"itemIdentifier": "msg-1"}]),
        "{response}"
    );
    let done = app.get_job(&job.id).await;
    assert_eq!(done.status, JobStatus::Succeeded, "{done:?}");
    assert_eq!(
        done.progress.runs_inserted,
        app.sandbox_summary().await.activity_count
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_binary_queues_the_nightly_syncs() {
    let app = spawn_app_with(Options {
        worker: false,
        ..Options::default()
    })
    .await;
    let watch = Watch::start(&app);
    let event: Value = serde_json::from_str(include_str!(
        "../../../lambdas/scheduler/tests/fixtures/scheduled_event.json"
    ))
    .unwrap();
    let report = watch.invoke("stk-scheduler", &event).await;
    let users = report["users"].as_u64().unwrap();
    assert!(users >= 1, "{report}");
    assert_eq!(report["queued"].as_u64().unwrap(), users, "{report}");

    let sqs = aws_sdk_sqs::Client::new(&app.aws);
    let received = sqs
        .receive_message()
        .queue_url(&app.adapters.settings.queue_url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    let chunks: Vec<Value> = received
        .messages()
        .iter()
        .map(|m| serde_json::from_str(m.body().unwrap()).unwrap())
        .collect();
    assert!(!chunks.is_empty());
    assert!(
        chunks
            .iter()
            .any(|c| c["users"].as_array().unwrap().contains(&json!(app.user_id))),
        "{chunks:?}"
    );
}
