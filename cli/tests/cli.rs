//! The real `stk` binary against a stub API, in temporary directories.

#![allow(clippy::unwrap_used)]

mod support;

use std::process::Stdio;

use stk_protocol::{JobStatus, SyncJob, SyncJobList, SyncKind};
use support::{
    Canned, KEY, Sandbox, Stub, exec, failed_job, full_sync_answers, job, progress, unused_url,
};

fn posts(stub: &Stub) -> Vec<support::Recorded> {
    stub.requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect()
}

#[test]
fn sync_queues_a_job_and_returns_at_once() {
    let stub = Stub::start();
    let sandbox = Sandbox::new();
    let run = exec(&mut sandbox.stk(&stub.url), &["sync"]);
    run.assert_code(0)
        .stdout_has("sync queued: job-1\n")
        .stdout_has("follow it with: stk sync status job-1 --wait\n");

    let requests = stub.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let post = &requests[0];
    assert_eq!(
        (post.method.as_str(), post.path.as_str()),
        ("POST", "/sync")
    );
    assert_eq!(
        post.authorization.as_deref(),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(post.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&post.body).unwrap(),
        serde_json::json!({})
    );
    let key = post.idempotency_key.as_deref().unwrap();
    assert!(key.len() >= 32, "{key}");

    // A fresh idempotency key per invocation.
    run_ok(&sandbox, &stub, &["sync"]);
    let keys: Vec<_> = posts(&stub)
        .into_iter()
        .map(|r| r.idempotency_key)
        .collect();
    assert_ne!(keys[0], keys[1]);
}

fn run_ok(sandbox: &Sandbox, stub: &Stub, args: &[&str]) -> support::Run {
    let run = exec(&mut sandbox.stk(&stub.url), args);
    run.assert_code(0);
    run
}

#[test]
fn sync_sends_the_range_or_full_body() {
    let stub = Stub::start();
    let sandbox = Sandbox::new();
    run_ok(
        &sandbox,
        &stub,
        &["sync", "--since", "2024-01-01", "--until", "2024-02-29"],
    );
    run_ok(&sandbox, &stub, &["sync", "--since", "2024-01-01"]);
    run_ok(&sandbox, &stub, &["sync", "--full"]);
    let bodies: Vec<serde_json::Value> = posts(&stub)
        .iter()
        .map(|r| serde_json::from_str(&r.body).unwrap())
        .collect();
    assert_eq!(
        bodies,
        [
            serde_json::json!({"since": "2024-01-01", "until": "2024-02-29"}),
            serde_json::json!({"since": "2024-01-01"}),
            serde_json::json!({"full": true}),
        ]
    );
}

#[test]
fn sync_json_prints_only_the_job() {
    let stub = Stub::start();
    let sandbox = Sandbox::new();
    let run = run_ok(&sandbox, &stub, &["sync", "--json"]);
    let job: SyncJob = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(job.id, "job-1");
    assert_eq!(job.status, JobStatus::Queued);
}

#[test]
fn an_active_job_is_reported_not_duplicated() {
    let stub = Stub::start();
    let sandbox = Sandbox::new();
    let mut active = job("job-7", JobStatus::Running);
    active.progress = progress(2, 200, 200, 0, 0);
    stub.on_post(Canned::json(200, &active));
    let run = run_ok(&sandbox, &stub, &["sync", "--full"]);
    run.stdout_has("a sync is already running: job-7\n")
        .stdout_has("no new sync was queued")
        .stdout_has("stk sync status job-7 --wait");
}

#[test]
fn sync_wait_follows_the_job_to_success() {
    let stub = Stub::start();
    let sandbox = Sandbox::new();
    stub.on_job("job-1", full_sync_answers("job-1"));
    let run = run_ok(&sandbox, &stub, &["sync", "--full", "--wait"]);
    run.stdout_has("sync queued: job-1\n").stdout_has(
        "sync succeeded in 12.3 s: 4,812 activities seen; 4,812 inserted, 0 updated, 0 unchanged (49 SmashRun requests, 49 store requests)\n",
    );
    assert!(!run.stdout.contains("nothing new"), "{run}");
    assert!(!run.stdout.contains("follow it with"), "{run}");
    let gets = stub
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path == "/sync/job-1")
        .count();
    assert_eq!(gets, 4, "polled until the job finished, then stopped");
}

#[test]
fn sync_wait_json_prints_only_the_final_job() {
    let stub = Stub::start();
    let sandbox = Sandbox::new();
    stub.on_job("job-1", full_sync_answers("job-1"));
    let run = run_ok(&sandbox, &stub, &["sync", "--wait", "--json"]);
    let job: SyncJob = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(job.status, JobStatus::Succeeded);
    assert_eq!(job.kind, SyncKind::Full);
    assert_eq!(job.progress.runs_inserted, 4812);
}

#[test]
fn nothing_new_is_said_explicitly() {
    let stub = Stub::start();
    let sandbox = Sandbox::new();
    let mut done = job("job-1", JobStatus::Succeeded);
    done.progress = progress(1, 12, 0, 0, 12);
    stub.on_job("job-1", vec![Canned::json(200, &done)]);
    let run = run_ok(&sandbox, &stub, &["sync", "--wait"]);
    run.stdout_has("12 activities seen; 0 inserted, 0 updated, 12 unchanged")
        .stdout_has("nothing new: 0 runs inserted or updated\n");
}

#[test]
fn a_failed_job_exits_1_with_its_reason() {
    let stub = Stub::start();
    let sandbox = Sandbox::new();
    stub.on_job("job-1", vec![Canned::json(200, &failed_job("job-1"))]);
    let run = exec(&mut sandbox.stk(&stub.url), &["sync", "--wait"]);
    run.assert_code(1)
        .stderr_has(
            "error: sync failed: SmashRun refused the refresh token: run `stk auth login` (smashrun_auth)\n",
        )
        .stderr_has("before it failed: 3 page(s), 300 activities seen; 120 inserted, 2 updated, 178 unchanged");
    assert!(!run.stdout.contains("succeeded"), "{run}");

    // `--json --wait` still prints the job, and still fails.
    let run = exec(&mut sandbox.stk(&stub.url), &["sync", "--wait", "--json"]);
    run.assert_code(1).stderr_has("sync failed:");
    let job: SyncJob = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(job.status, JobStatus::Failed);
}

#[test]
fn status_shows_a_job_in_full() {
    let stub = Stub::start();
    let sandbox = Sandbox::new();
    let mut running = job("job-3", JobStatus::Running);
    running.progress = progress(3, 300, 120, 2, 178);
    stub.on_job("job-3", vec![Canned::json(200, &running)]);
    let run = run_ok(&sandbox, &stub, &["sync", "status", "job-3"]);
    run.stdout_has("sync job-3\n")
        .stdout_has("  status:   running\n")
        .stdout_has("  kind:     incremental\n")
        .stdout_has("  created:  2026-03-01 14:02:00 UTC\n")
        .stdout_has("  started:  2026-03-01 14:02:01 UTC\n")
        .stdout_has("  attempts: 1\n")
        .stdout_has("  progress: 3 page(s), 300 of 4,812 activities; 300 activities seen; 120 inserted, 2 updated, 178 unchanged\n");

    let run = run_ok(&sandbox, &stub, &["sync", "status", "job-3", "--json"]);
    assert_eq!(
        serde_json::from_str::<SyncJob>(&run.stdout).unwrap(),
        running
    );
}

#[test]
fn status_of_a_failed_job_exits_1() {
    let stub = Stub::start();
    let sandbox = Sandbox::new();
    stub.on_job("job-9", vec![Canned::json(200, &failed_job("job-9"))]);
    let run = exec(&mut sandbox.stk(&stub.url), &["sync", "status", "job-9"]);
    run.assert_code(1)
        .stdout_has("  status:   failed\n")
        .stdout_has("  error:    SmashRun refused the refresh token: run `stk auth login` (smashrun_auth)\n")
        .stderr_has("error: sync failed:");
}

#[test]
fn status_without_an_id_uses_the_most_recent_job() {
    let stub = Stub::start();
    let sandbox = Sandbox::new();
    let newest = job("job-new", JobStatus::Succeeded);
    let older = job("job-old", JobStatus::Succeeded);
    stub.on_list(Canned::json(
        200,
        &SyncJobList {
            jobs: vec![newest, older],
        },
    ));
    run_ok(&sandbox, &stub, &["sync", "status"]).stdout_has("sync job-new\n");

    stub.on_list(Canned::json(200, &SyncJobList { jobs: vec![] }));
    let run = exec(&mut sandbox.stk(&stub.url), &["sync", "status"]);
    run.assert_code(4)
        .stderr_has("error: no sync jobs yet: start one with `stk sync`");
}

#[test]
fn status_wait_follows_an_existing_job() {
    let stub = Stub::start();
    let sandbox = Sandbox::new();
    stub.on_job("job-2", full_sync_answers("job-2"));
    run_ok(&sandbox, &stub, &["sync", "status", "job-2", "--wait"])
        .stdout_has("sync succeeded in 12.3 s: 4,812 activities seen");
}

#[test]
fn unknown_job_exits_4() {
    let stub = Stub::start();
    let sandbox = Sandbox::new();
    let run = exec(&mut sandbox.stk(&stub.url), &["sync", "status", "nope"]);
    run.assert_code(4)
        .stderr_has("error: no sync job nope for this account (request id req-404)\n");
}

#[test]
fn list_prints_an_aligned_table() {
    let stub = Stub::start();
    let sandbox = Sandbox::new();
    run_ok(&sandbox, &stub, &["sync", "list"]).stdout_has("no sync jobs yet");

    let mut done = job("4f1c8a52-9b0e-4c47-a0c3-0d2f6a7e5b11", JobStatus::Succeeded);
    done.progress = progress(49, 4812, 4812, 0, 0);
    let mut range = job("short-id", JobStatus::Running);
    range.kind = SyncKind::Range;
    range.since = "2024-01-01".parse().ok();
    range.until = "2024-01-31".parse().ok();
    stub.on_list(Canned::json(
        200,
        &SyncJobList {
            jobs: vec![done, range],
        },
    ));
    let run = exec(
        sandbox.stk(&stub.url).env("COLUMNS", "200"),
        &["sync", "list"],
    );
    run.assert_code(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{run}");
    assert!(lines[0].starts_with("ID "), "{run}");
    assert!(
        lines[1].starts_with("4f1c8a52-9b0e-4c47-a0c3-0d2f6a7e5b11  succeeded  incremental"),
        "{run}"
    );
    assert!(lines[2].contains("range 2024-01-01..2024-01-31"), "{run}");
    let status_col = lines[0].find("STATUS").unwrap();
    assert_eq!(lines[2].find("running"), Some(status_col), "{run}");
    assert!(lines[1].ends_with("4,812        0          0"), "{run}");

    // Fitted to a narrower terminal: counts give way, the id is cut, nothing wraps.
    let run = exec(
        sandbox.stk(&stub.url).env("COLUMNS", "70"),
        &["sync", "list"],
    );
    run.assert_code(0);
    assert!(run.stdout.lines().all(|l| l.chars().count() <= 70), "{run}");
    assert!(run.stdout.contains("…  succeeded"), "{run}");
    assert!(!run.stdout.contains("UNCHANGED"), "{run}");

    let run = run_ok(&sandbox, &stub, &["sync", "list", "--json"]);
    let list: SyncJobList = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(list.jobs.len(), 2);
}

#[test]
fn a_refused_key_exits_4_and_says_what_to_do() {
    let stub = Stub::start();
    let sandbox = Sandbox::empty();
    sandbox.write_config(&support::key_config(&stub.url, "stk_wrong"));
    let run = exec(&mut sandbox.stk(&stub.url), &["sync", "list"]);
    run.assert_code(4).stderr_has(
        "error: the API key was refused: run `stk auth login` (or check STK_CONFIG_DIR) (request id req-401)\n",
    );
    assert_eq!(run.stdout, "");
    assert!(!run.stderr.contains("stk_wrong"), "{run}");
}

#[test]
fn api_validation_errors_exit_4_with_the_message() {
    let stub = Stub::start();
    let sandbox = Sandbox::new();
    stub.on_post(Canned::error(
        422,
        "invalid_body",
        "`since` is more than 50 years ago",
        Some("req-77"),
    ));
    let run = exec(
        &mut sandbox.stk(&stub.url),
        &["sync", "--since", "1970-01-01"],
    );
    run.assert_code(4)
        .stderr_has("error: `since` is more than 50 years ago (request id req-77)\n");
}

#[test]
fn a_server_error_without_json_exits_5_without_the_body() {
    let stub = Stub::start();
    let sandbox = Sandbox::new();
    stub.on_list(Canned::text(
        500,
        "Traceback (most recent call last): SUPABASE_KEY=eyJ...",
    ));
    let run = exec(&mut sandbox.stk(&stub.url), &["sync", "list"]);
    run.assert_code(5)
        .stderr_has("error: the API answered 500 Internal Server Error\n")
        .stderr_lacks("Traceback");
}

#[test]
fn an_unreadable_answer_exits_5() {
    let stub = Stub::start();
    let sandbox = Sandbox::new();
    stub.on_post(Canned::text(202, "<html>gateway</html>"));
    let run = exec(&mut sandbox.stk(&stub.url), &["sync"]);
    run.assert_code(5)
        .stderr_has("error: could not read the API's answer to POST /sync")
        .stderr_lacks("<html>");
}

#[test]
fn waiting_retries_transient_failures() {
    let stub = Stub::start();
    let sandbox = Sandbox::new();
    let mut answers = vec![
        Canned::error(503, "unavailable", "try again", None),
        Canned::text(502, "Bad Gateway"),
    ];
    answers.extend(full_sync_answers("job-1"));
    stub.on_job("job-1", answers);
    let run = run_ok(&sandbox, &stub, &["sync", "--wait"]);
    run.stdout_has("sync succeeded in 12.3 s")
        .stderr_has("warning: could not get progress (try again): retrying in");
}

#[test]
fn a_permanent_error_while_waiting_stops_at_once() {
    let stub = Stub::start();
    let sandbox = Sandbox::new();
    stub.on_job(
        "job-1",
        vec![Canned::error(404, "not_found", "job not found", None)],
    );
    let run = exec(&mut sandbox.stk(&stub.url), &["sync", "--wait"]);
    run.assert_code(4)
        .stderr_has("error: no sync job job-1 for this account");
}

#[test]
fn server_down_exits_5() {
    let sandbox = Sandbox::new();
    let url = unused_url();
    let run = exec(&mut sandbox.stk(&url), &["sync"]);
    run.assert_code(5)
        .stderr_has(&format!("error: could not reach the API at {url}/"))
        .stderr_has("check API_BASE_URL");
    assert_eq!(run.stdout, "");
}

#[test]
fn missing_configuration_exits_3() {
    let stub = Stub::start();

    // No config file.
    let sandbox = Sandbox::empty();
    let run = exec(&mut sandbox.stk(&stub.url), &["sync"]);
    run.assert_code(3).stderr_has(&format!(
        "error: not logged in to {}: run `stk auth login`",
        stub.url.trim_end_matches('/')
    ));

    // No HOME, no STK_CONFIG_DIR, no XDG_CONFIG_HOME.
    let run = exec(sandbox.bare_stk().env("API_BASE_URL", &stub.url), &["sync"]);
    run.assert_code(3).stderr_has("set STK_CONFIG_DIR");

    // No API URL.
    let sandbox = Sandbox::new();
    let run = exec(
        sandbox.stk("").env_remove("API_BASE_URL"),
        &["sync", "list"],
    );
    run.assert_code(3)
        .stderr_has("no API URL configured: set API_BASE_URL");

    // A broken config file.
    sandbox.write_config("{\"api_key\": ");
    let run = exec(&mut sandbox.stk(&stub.url), &["sync"]);
    run.assert_code(3)
        .stderr_has("config.json is not a valid stk config");

    // A URL that is not one.
    let run = exec(&mut sandbox.stk("api.example.com"), &["sync"]);
    run.assert_code(3)
        .stderr_has("the API URL `api.example.com` is not usable");

    assert!(stub.requests().is_empty(), "nothing was sent");
}

#[test]
fn the_config_dir_defaults_to_xdg_then_home() {
    let stub = Stub::start();
    let sandbox = Sandbox::empty();
    let home = sandbox.tmp.path().join("home");
    std::fs::create_dir_all(home.join(".config/stk")).unwrap();
    std::fs::write(
        home.join(".config/stk/config.json"),
        support::key_config(&stub.url, KEY),
    )
    .unwrap();
    support::set_mode(&home.join(".config/stk/config.json"), 0o600);
    let command = || {
        let mut command = sandbox.bare_stk();
        command.env("HOME", &home).env("API_BASE_URL", &stub.url);
        command
    };
    exec(&mut command(), &["sync", "list"]).assert_code(0);

    // XDG_CONFIG_HOME comes first (and holds no config here).
    let xdg = sandbox.tmp.path().join("xdg");
    exec(command().env("XDG_CONFIG_HOME", &xdg), &["sync", "list"])
        .assert_code(3)
        .stderr_has("not logged in to");
}

#[test]
fn stk_api_key_overrides_the_config() {
    let stub = Stub::start();
    let sandbox = Sandbox::empty();
    sandbox.write_config(r#"{"api_key": "stk_stale"}"#);
    exec(
        sandbox.stk(&stub.url).env("STK_API_KEY", KEY),
        &["sync", "list"],
    )
    .assert_code(0);

    // Without any config directory at all.
    exec(
        sandbox
            .bare_stk()
            .env("STK_API_KEY", KEY)
            .env("API_BASE_URL", &stub.url),
        &["sync", "list"],
    )
    .assert_code(0);

    // A refused env key names the variable.
    exec(
        sandbox.stk(&stub.url).env("STK_API_KEY", "stk_nope"),
        &["sync", "list"],
    )
    .assert_code(4)
    .stderr_has("the API key in STK_API_KEY was refused");
}

#[test]
fn dot_env_supplies_the_api_url_and_the_environment_wins() {
    let stub = Stub::start();
    let sandbox = Sandbox::empty();
    sandbox.write_config(&support::key_config(&stub.url, KEY));
    std::fs::write(
        sandbox.work_dir().join(".env"),
        format!("API_BASE_URL={}/\n", stub.url),
    )
    .unwrap();
    let mut command = sandbox.stk("");
    command.env_remove("API_BASE_URL");
    exec(&mut command, &["sync", "list"]).assert_code(0);
    assert_eq!(stub.requests().len(), 1);

    let other = unused_url();
    let run = exec(&mut sandbox.stk(&other), &["sync", "list"]);
    run.assert_code(3)
        .stderr_has(&format!("not logged in to {other}"));
    assert_eq!(stub.requests().len(), 1, "the environment's URL was used");
}

#[test]
fn api_url_flag_and_trailing_slash() {
    let stub = Stub::start();
    let sandbox = Sandbox::empty();
    sandbox.write_config(&support::key_config(&stub.url, KEY));
    let url = format!("{}/", stub.url);
    exec(
        &mut sandbox.stk(&unused_url()),
        &["sync", "list", "--api-url", &url],
    )
    .assert_code(0);
    assert_eq!(stub.requests()[0].path, "/sync");
}

#[test]
fn usage_errors_exit_2_before_any_request() {
    let stub = Stub::start();
    let sandbox = Sandbox::new();
    for (args, expected) in [
        (&["sync", "--since", "2023-02-29"][..], "2023-02-29"),
        (
            &["sync", "--since", "2024-03-01", "--until", "2024-02-01"][..],
            "--since 2024-03-01 is after --until 2024-02-01",
        ),
        (
            &["sync", "--full", "--since", "2024-01-01"][..],
            "cannot be used with",
        ),
        (&["sync", "--bogus"][..], "--bogus"),
        (&["sync", "status", "a", "b"][..], "unexpected argument"),
    ] {
        let run = exec(&mut sandbox.stk(&stub.url), args);
        run.assert_code(2).stderr_has(expected);
        assert_eq!(run.stdout, "", "{args:?}");
    }
    // Usage errors win over missing configuration.
    let run = exec(
        &mut Sandbox::empty().bare_stk(),
        &["sync", "--until", "2024-13-01"],
    );
    run.assert_code(2);
    assert!(stub.requests().is_empty());
}

#[test]
fn help_documents_the_exit_codes() {
    let sandbox = Sandbox::empty();
    let run = exec(&mut sandbox.bare_stk(), &["--help"]);
    run.assert_code(0)
        .stdout_has("Exit codes:")
        .stdout_has("3    configuration problem")
        .stdout_has("STK_API_KEY");
    // `stk` alone is `stk streak` (tests/views.rs), not help: here it lacks an API URL.
    exec(&mut sandbox.bare_stk(), &[])
        .assert_code(3)
        .stderr_has("no API URL configured");
}

#[cfg(unix)]
#[test]
fn a_readable_config_file_is_warned_about() {
    let stub = Stub::start();
    let sandbox = Sandbox::new();
    let path = sandbox.config_dir().join("config.json");
    support::set_mode(&path, 0o644);
    run_ok(&sandbox, &stub, &["sync", "list"])
        .stderr_has("is readable by other users (mode 644)")
        .stderr_has("chmod 600");
}

#[test]
fn verbose_output_goes_to_stderr_without_the_key() {
    let stub = Stub::start();
    let sandbox = Sandbox::new();
    let run = run_ok(&sandbox, &stub, &["sync", "-vv", "--json"]);
    run.stderr_has("debug: POST http://")
        .stderr_has("-> 202 Accepted")
        .stderr_has("debug: API key from ");
    serde_json::from_str::<SyncJob>(&run.stdout).unwrap();
}

#[test]
fn a_closed_stdout_is_not_an_error() {
    let stub = Stub::start();
    let sandbox = Sandbox::new();
    stub.on_list(Canned::json(
        200,
        &SyncJobList {
            jobs: (0..200)
                .map(|i| job(&format!("job-{i}"), JobStatus::Succeeded))
                .collect(),
        },
    ));
    let mut child = sandbox
        .stk(&stub.url)
        .args(["sync", "list"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let run = support::finish(child);
    run.assert_code(0);
    assert_eq!(run.stderr, "");
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_waiting_and_says_the_job_keeps_running() {
    let stub = Stub::start();
    let sandbox = Sandbox::new();
    let mut running = job("job-long", JobStatus::Running);
    running.progress = progress(2, 200, 200, 0, 0);
    stub.on_job("job-long", vec![Canned::json(200, &running)]);
    let child = sandbox
        .stk(&stub.url)
        .args(["sync", "status", "job-long", "--wait"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The first poll after the initial read means the Ctrl-C handler is in place.
    stub.wait_for_requests("/sync/job-long", 2);
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let run = support::finish(child);
    run.assert_code(130)
        .stderr_has("stopped waiting: sync job-long keeps running on the server\n")
        .stderr_has("follow it with: stk sync status job-long --wait\n");
}

/// A key is sent only to the API that issued it: a `.env` or `--api-url` naming another API
/// (here a capture server) gets no request at all, let alone the key.
#[test]
fn a_key_is_never_sent_to_another_api() {
    let issuer = Stub::start();
    let capture = Stub::start();
    let sandbox = Sandbox::empty();
    sandbox.write_config(&support::key_config(&issuer.url, KEY));

    std::fs::write(
        sandbox.work_dir().join(".env"),
        format!("API_BASE_URL={}\n", capture.url),
    )
    .unwrap();
    let mut from_dot_env = sandbox.stk("");
    from_dot_env.env_remove("API_BASE_URL");
    exec(&mut from_dot_env, &["sync", "list"])
        .assert_code(3)
        .stderr_has(&format!("not logged in to {}", capture.url));

    exec(
        &mut sandbox.stk(&issuer.url),
        &["streak", "--api-url", &capture.url],
    )
    .assert_code(3)
    .stderr_has("a key is sent only to the API that issued it");
    assert!(
        capture.requests().is_empty(),
        "the capture server got nothing"
    );

    // The issuer still gets it.
    exec(&mut sandbox.stk(&issuer.url), &["sync", "list"]).assert_code(0);
    assert_eq!(
        issuer.requests()[0].authorization.as_deref(),
        Some(format!("Bearer {KEY}").as_str())
    );
}

#[test]
fn plain_http_to_another_machine_is_refused() {
    let sandbox = Sandbox::new();
    exec(
        &mut sandbox.stk("http://api.example.com/prod"),
        &["sync", "list"],
    )
    .assert_code(3)
    .stderr_has("is allowed only to this machine")
    .stderr_has("use https://");
}

/// The Python CLI's `config.json` names the API and the user; it is rewritten in the new form
/// (the API remembered as the default, the user id dropped) and the runner is told to log in.
#[test]
fn the_python_clis_config_is_migrated() {
    let stub = Stub::start();
    let sandbox = Sandbox::empty();
    sandbox.write_config(&format!(
        r#"{{"api_base_url": "{}", "user_id": "5b0c"}}"#,
        stub.url
    ));
    let mut command = sandbox.stk("");
    command.env_remove("API_BASE_URL");
    exec(&mut command, &["sync", "list"])
        .assert_code(3)
        .stderr_has("the Python CLI's `api_base_url` is now `api_url`")
        .stderr_has(&format!("not logged in to {}", stub.url));
    let saved: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(sandbox.config_dir().join("config.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(saved, serde_json::json!({ "api_url": stub.url }));
    assert!(stub.requests().is_empty());
}

/// Logging out with the API out of reach still forgets the key here, and says the server was
/// not told.
#[test]
fn logout_works_offline_and_says_the_server_was_not_told() {
    let sandbox = Sandbox::empty();
    let url = unused_url();
    sandbox.write_config(&support::key_config(&url, KEY));
    let run = exec(&mut sandbox.stk(&url), &["auth", "logout"]);
    run.assert_code(0).stdout_has("the server was not told");
    let saved: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(sandbox.config_dir().join("config.json")).unwrap(),
    )
    .unwrap();
    assert!(
        saved["apis"][url.trim_end_matches('/')].is_null(),
        "{saved}"
    );
    exec(&mut sandbox.stk(&url), &["auth", "logout"])
        .assert_code(0)
        .stdout_has("not logged in to");
}

#[test]
fn auth_status_warns_while_the_python_clis_tokens_file_exists() {
    let sandbox = Sandbox::new();
    std::fs::write(sandbox.config_dir().join("tokens.json"), "{}").unwrap();
    let run = exec(&mut sandbox.stk(&unused_url()), &["auth", "status"]);
    run.assert_code(5)
        .stderr_has("tokens.json holds the Python CLI's SmashRun tokens: run `stk auth login`");
}
