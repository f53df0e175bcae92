//! The local tools say which stack they talk to and stop cleanly: a copied `stk-local` uses the
//! checkout it runs in (or refuses), and a stopped poller leaves no message stranded in flight.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Options, checkout_root, spawn_app_with};
use stk_local::{Poller, PollerSettings};
use tokio::sync::watch;

/// The variables that would point a run at a stack regardless of its working directory.
const STACK_VARS: [&str; 6] = [
    "STK_CHECKOUT",
    "SUPABASE_URL",
    "SUPABASE_SERVICE_ROLE_KEY",
    "AWS_ENDPOINT_URL",
    "DATABASE_URL",
    "STK_API_ADDR",
];

/// `stk-local` copied out of the build folder, as someone might move a build.
fn copied_binary(into: &Path) -> std::path::PathBuf {
    let copy = into.join("stk-local");
    std::fs::copy(env!("CARGO_BIN_EXE_stk-local"), &copy).unwrap();
    copy
}

fn run_in(bin: &Path, cwd: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(bin);
    command.args(args).current_dir(cwd);
    for var in STACK_VARS {
        command.env_remove(var);
    }
    command.output().unwrap()
}

fn fake_checkout(dir: &Path, supabase_url: &str) {
    for marker in ["scripts/stack.sh", "infra/names.json"] {
        let path = dir.join(marker);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "").unwrap();
    }
    std::fs::create_dir_all(dir.join(".stack")).unwrap();
    std::fs::write(
        dir.join(".stack/env"),
        format!("export SUPABASE_URL={supabase_url}\nexport AWS_ENDPOINT_URL=http://127.0.0.1:9\n"),
    )
    .unwrap();
}

#[test]
fn a_copied_build_outside_any_checkout_refuses_and_names_the_fix() {
    let elsewhere = tempfile::tempdir().unwrap();
    let bin = copied_binary(elsewhere.path());
    let out = run_in(&bin, elsewhere.path(), &["check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("is not inside a MyRunStreak checkout"),
        "{stderr}"
    );
    assert!(stderr.contains("--checkout"), "{stderr}");
    // Nothing of the checkout it was built in leaks into the answer.
    let built_in = checkout_root();
    assert!(
        !stderr.contains(&built_in.display().to_string()),
        "{stderr}"
    );
}

#[test]
fn a_copied_build_uses_the_checkout_it_runs_in() {
    let other = tempfile::tempdir().unwrap();
    fake_checkout(other.path(), "http://127.0.0.1:7");
    let below = other.path().join("cli/src");
    std::fs::create_dir_all(&below).unwrap();
    let bin = copied_binary(other.path());
    let out = run_in(&bin, &below, &["stack"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let root = other.path().canonicalize().unwrap();
    assert!(
        stdout.contains(&format!("the local stack of {}", root.display())),
        "{stdout}"
    );
    assert!(
        stdout.contains("http://127.0.0.1:7 (.stack/env)"),
        "{stdout}"
    );

    // --checkout names another one explicitly, from anywhere.
    let nowhere = tempfile::tempdir().unwrap();
    let real = checkout_root();
    let out = run_in(
        &bin,
        nowhere.path(),
        &["--checkout", real.to_str().unwrap(), "stack"],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("the local stack of {}", real.display())),
        "{stdout}"
    );
}

/// A poller stopped in the middle of a long poll finishes that receive and hands back what it
/// got, so the next receiver gets the message at once instead of after the visibility timeout.
#[tokio::test]
async fn a_stopped_poller_leaves_no_message_in_flight() {
    let app = spawn_app_with(Options {
        worker: false,
        ..Options::default()
    })
    .await;
    let sqs = aws_sdk_sqs::Client::new(&app.aws);
    let queue = app.adapters.settings.queue_url.clone();
    let poller = Poller::new(
        sqs.clone(),
        queue.clone(),
        PollerSettings {
            batch_size: 1,
            wait: Duration::from_secs(3),
            ..PollerSettings::default()
        },
    );
    let worker = Arc::new(stk_worker::Worker::from_adapters(
        &app.adapters,
        stk_core::sync::EngineSettings::default(),
    ));
    let (stop, stopped) = watch::channel(false);
    let running = tokio::spawn(async move { poller.run(worker.as_ref(), stopped).await });
    // Into the long poll, then stop, then a message arrives while that poll is still open.
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.send(true).unwrap();
    sqs.send_message()
        .queue_url(&queue)
        .message_body(r#"{"probe":true}"#)
        .send()
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the poller stops within its long poll")
        .unwrap();

    // The queue's visibility timeout is 2 s here: a stranded message would come back only then.
    let started = Instant::now();
    let received = sqs
        .receive_message()
        .queue_url(&queue)
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap();
    let bodies: Vec<_> = received
        .messages()
        .iter()
        .filter_map(|m| m.body())
        .collect();
    assert_eq!(
        bodies,
        [r#"{"probe":true}"#],
        "after {:?}",
        started.elapsed()
    );
}
