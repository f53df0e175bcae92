//! Logging in on the real stack: the real `stk` binary through the browser path and the
//! pasted-code path, the login routes' refusals, logout, and what an `invalid_grant` does.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Command, Stdio};

use common::{Options, TestApp, open_login_session, spawn_app, spawn_app_with, stk_bin};
use serde_json::{Value, json};
use stk_core::ports::UserDirectory;
use stk_protocol::{IssuedKey, JobStatus, LoginSession, Me};

/// What SmashRun's consent page (auto-approving) redirects the browser to.
async fn consent(app: &TestApp, session: &LoginSession) -> String {
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = no_redirects
        .get(&session.authorize_url)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with(&app.url("/auth/callback?")),
        "{location}"
    );
    location
}

async fn pickup(app: &TestApp, id: &str, secret: &str) -> reqwest::Response {
    app.http
        .post(app.url(&format!("/auth/sessions/{id}/token")))
        .json(&json!({ "session_secret": secret }))
        .send()
        .await
        .unwrap()
}

/// The whole flow through the API: a new key for the sandbox's runner.
async fn log_in(app: &TestApp) -> IssuedKey {
    let (session, secret) = open_login_session(app).await;
    let callback = consent(app, &session).await;
    let page = app.http.get(&callback).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let response = pickup(app, &session.session_id, &secret).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn get_me(app: &TestApp, key: &str) -> reqwest::Response {
    app.http
        .get(app.url("/me"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
}

async fn error_code(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (
        status,
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

fn stk(app: &TestApp, config: &std::path::Path) -> Command {
    let mut command = Command::new(stk_bin());
    command
        .env("API_BASE_URL", &app.api_url)
        .env("STK_CONFIG_DIR", config)
        .env("STK_POLL_INTERVAL_MS", "100")
        .env_remove("STK_API_KEY")
        .env_remove("BROWSER");
    command
}

async fn run(mut command: Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The browser path with a headless "browser" (curl following the redirects), a runner who
/// migrates from the Python CLI's files, then a sync and `stk auth status`.
#[tokio::test]
async fn stk_logs_in_through_the_browser_then_syncs_and_reports_status() {
    let app = spawn_app().await;
    let config = tempfile::tempdir().unwrap();
    // What the Python CLI left: its config naming the API, and SmashRun tokens in a file.
    std::fs::write(
        config.path().join("config.json"),
        json!({ "api_base_url": app.api_url, "user_id": "python-era-id" }).to_string(),
    )
    .unwrap();
    std::fs::write(
        config.path().join("tokens.json"),
        r#"{"access_token": "old"}"#,
    )
    .unwrap();

    let mut login = stk(&app, config.path());
    login
        .env_remove("API_BASE_URL")
        .env("BROWSER", "curl -sS -L --max-redirs 5 -o /dev/null")
        .args(["auth", "login"])
        .stdin(Stdio::null());
    let out = run(login).await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(
        stdout.contains(&format!("Logged in to {} as ", app.api_url)),
        "{stdout}"
    );
    assert!(stdout.contains("Removed the old tokens.json"), "{stdout}");
    assert!(!config.path().join("tokens.json").exists());
    assert!(
        text(&out.stderr).contains("the Python CLI's `api_base_url` is now `api_url`"),
        "{}",
        text(&out.stderr)
    );

    // The config holds the key for this API and nothing of SmashRun's, readable by its owner only.
    let path = config.path().join("config.json");
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let key = saved["apis"][&app.api_url]["api_key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(key.starts_with("stk_"));
    assert_eq!(saved["api_url"], app.api_url);
    assert!(saved.get("user_id").is_none() && saved.get("api_base_url").is_none());
    let raw = std::fs::read_to_string(&path).unwrap();
    assert!(!raw.contains("access") && !raw.contains("refresh"), "{raw}");
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&path).unwrap().permissions())
            & 0o777,
        0o600
    );

    let mut sync = stk(&app, config.path());
    sync.args(["sync", "--wait"]);
    let out = run(sync).await;
    assert!(out.status.success(), "{}", text(&out.stderr));

    // The login session's record (kept in the jobs table) is not listed as a job.
    let mut jobs = stk(&app, config.path());
    jobs.args(["sync", "list", "--json"]);
    let out = run(jobs).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let list: stk_protocol::SyncJobList = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.jobs.len(), 1, "{list:?}");

    let mut status = stk(&app, config.path());
    status.args(["auth", "status", "--json"]);
    let out = run(status).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let me: Me = serde_json::from_slice(&out.stdout).unwrap();
    // The runner was already linked (spawn_app linked them): the same user, a new key.
    assert_eq!(me.user_id, app.user_id.to_string());
    let link = me.smashrun.unwrap();
    assert_eq!(
        link.account_id,
        app.sandbox_summary().await.user_id.to_string()
    );
    assert!(!link.needs_relink);
    assert!(link.token_expires_in_s > 0);
    assert!(me.last_sync_at.is_some());
    assert_eq!(me.key.prefix, key[..10]);
    assert!(me.key.last_used_at.is_some());
    // The first key still works until it is logged out.
    assert_eq!(me_status(&app, &app.api_key).await, 200);
}

async fn me_status(app: &TestApp, key: &str) -> u16 {
    get_me(app, key).await.status().as_u16()
}

/// `--no-browser`: the address opened elsewhere, and the address the browser was sent back to
/// pasted into `stk` (as when the browser cannot reach the API).
#[tokio::test]
async fn a_pasted_address_logs_in_without_a_browser() {
    let app = spawn_app().await;
    let config = tempfile::tempdir().unwrap();
    let mut login = stk(&app, config.path());
    login
        .args(["auth", "login", "--no-browser"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = tokio::task::spawn_blocking(move || {
        let mut child = login.spawn().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut consent = String::new();
        let mut seen = String::new();
        while consent.is_empty() {
            let mut line = String::new();
            assert!(
                stdout.read_line(&mut line).unwrap() > 0,
                "no address in: {seen}"
            );
            seen.push_str(&line);
            if line.contains("/oauth2/authenticate") {
                consent = line.trim().to_owned();
            }
        }
        // The phone's browser: SmashRun redirects it to an API it cannot reach.
        let redirect = Command::new("curl")
            .args(["-sS", "-o", "/dev/null", "-w", "%{redirect_url}", &consent])
            .output()
            .unwrap();
        let back_to = text(&redirect.stdout);
        assert!(back_to.contains("code="), "{back_to}");
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "{back_to}").unwrap();
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
        let status = child.wait().unwrap();
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        (status, seen + &rest, stderr)
    })
    .await
    .unwrap();
    let (status, stdout, stderr) = out;
    assert!(status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("Logged in to"), "{stdout}");
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(config.path().join("config.json")).unwrap())
            .unwrap();
    let key = saved["apis"][&app.api_url]["api_key"].as_str().unwrap();
    assert_eq!(me_status(&app, key).await, 200);
}

#[tokio::test]
async fn forged_reused_denied_failed_and_expired_logins_link_nothing_and_say_why() {
    let app = spawn_app().await;

    // Forged states: not of the form, or naming a session with the wrong random part.
    let (session, secret) = open_login_session(&app).await;
    let (id, _) = session.state.split_once('.').unwrap();
    for forged in ["nonsense".to_owned(), format!("{id}.{}", "A".repeat(43))] {
        let page = app
            .http
            .get(app.url("/auth/callback"))
            .query(&[("code", "x"), ("state", forged.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 400, "{forged}");
        assert!(page.text().await.unwrap().contains("not valid"));
    }
    // The session is untouched by the forgeries: still pending.
    assert_eq!(
        pickup(&app, &session.session_id, &secret).await.status(),
        202
    );

    // A state is used once: the replayed callback is refused.
    let callback = consent(&app, &session).await;
    assert_eq!(app.http.get(&callback).send().await.unwrap().status(), 200);
    let replay = app.http.get(&callback).send().await.unwrap();
    assert_eq!(replay.status(), 409);
    assert!(replay.text().await.unwrap().contains("already used"));

    // A wrong secret and an unknown session answer alike.
    let wrong = pickup(&app, &session.session_id, "not-the-secret").await;
    let unknown = pickup(&app, &uuid::Uuid::new_v4().to_string(), &secret).await;
    assert_eq!(error_code(wrong).await, (404, "not_found".into()));
    assert_eq!(error_code(unknown).await, (404, "not_found".into()));

    // The key once, then the session is spent.
    assert_eq!(
        pickup(&app, &session.session_id, &secret).await.status(),
        200
    );
    let again = pickup(&app, &session.session_id, &secret).await;
    assert_eq!(error_code(again).await, (410, "session_spent".into()));

    // Denied consent.
    let (session, secret) = open_login_session(&app).await;
    let page = app
        .http
        .get(app.url("/auth/callback"))
        .query(&[
            ("error", "access_denied"),
            ("state", session.state.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 403);
    assert!(page.text().await.unwrap().contains("not granted"));
    let after = pickup(&app, &session.session_id, &secret).await;
    assert_eq!(error_code(after).await, (410, "login_failed".into()));

    // A code SmashRun does not accept (the manual path, as `stk` pastes it).
    let (session, secret) = open_login_session(&app).await;
    let manual = app
        .http
        .post(app.url("/auth/callback"))
        .json(&json!({ "code": "forged-code", "state": session.state }))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(manual).await, (400, "invalid_request".into()));
    let after = pickup(&app, &session.session_id, &secret).await;
    assert_eq!(error_code(after).await, (410, "login_failed".into()));

    // An expired session: its code is refused and its key never handed out.
    let (session, secret) = open_login_session(&app).await;
    let callback = consent(&app, &session).await;
    aws_sdk_dynamodb::Client::new(&app.aws)
        .update_item()
        .table_name(&app.names.table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("login#{}", session.session_id)),
        )
        .update_expression("SET expires_at = :past")
        .expression_attribute_values(
            ":past",
            aws_sdk_dynamodb::types::AttributeValue::N("1".into()),
        )
        .send()
        .await
        .unwrap();
    let page = app.http.get(&callback).send().await.unwrap();
    assert_eq!(page.status(), 410);
    assert_eq!(
        pickup(&app, &session.session_id, &secret).await.status(),
        404
    );

    // Bad bodies.
    for (body, content_type, status) in [
        (r#"{"secret_sha256": "abc"}"#, "application/json", 400),
        (r#"{"secret_sha256": 5}"#, "application/json", 400),
        (r#"{"secret_sha256": "#, "application/json", 400),
        ("secret", "text/plain", 415),
    ] {
        let response = app
            .http
            .post(app.url("/auth/sessions"))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{body}");
    }
}

#[tokio::test]
async fn logout_revokes_the_key_and_all_revokes_every_key() {
    let app = spawn_app().await;
    let first = log_in(&app).await;
    let second = log_in(&app).await;
    assert_eq!(
        first.user_id, second.user_id,
        "the same runner, the same user"
    );
    assert_ne!(first.api_key, second.api_key);

    let logout = |key: String, body: Value| {
        let app = &app;
        async move {
            app.http
                .post(app.url("/auth/logout"))
                .bearer_auth(key)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let response = logout(first.api_key.clone(), json!({})).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["revoked"], 1);
    assert_eq!(me_status(&app, &first.api_key).await, 401);
    assert_eq!(me_status(&app, &second.api_key).await, 200);

    let response = logout(second.api_key.clone(), json!({ "all": true })).await;
    assert_eq!(response.status(), 200);
    // The second key and the one spawn_app issued.
    assert_eq!(response.json::<Value>().await.unwrap()["revoked"], 2);
    assert_eq!(me_status(&app, &second.api_key).await, 401);
    assert_eq!(me_status(&app, &app.api_key).await, 401);
    assert_eq!(
        logout(second.api_key.clone(), json!({})).await.status(),
        401
    );
}

#[tokio::test]
async fn stk_auth_logout_forgets_the_key_and_the_api_refuses_it() {
    let app = spawn_app().await;
    let config = app.cli_config();
    let out = app.run_stk(config.path(), &["auth", "logout"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("1 key revoked"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(me_status(&app, &app.api_key).await, 401);
    let out = app.run_stk(config.path(), &["streak"]).await;
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stderr).contains("not logged in to"),
        "{}",
        text(&out.stderr)
    );
}

/// SmashRun refuses the refresh token: the sync fails with advice, `/me` shows it, the
/// nightly run leaves the source out, and a new login puts it back.
#[tokio::test]
async fn invalid_grant_needs_a_new_login_and_the_nightly_run_skips_the_source() {
    let app = spawn_app_with(Options::default()).await;
    app.sandbox_admin(reqwest::Method::POST, "/admin/tokens/revoke", None)
        .await;
    let queued = app.start_sync(&json!({})).await;
    let job = app.wait_for(&queued.id).await;
    assert_eq!(job.status, JobStatus::Failed);
    let error = job.error.unwrap();
    assert_eq!(error.code, "smashrun_auth");
    assert!(
        error.message.contains("stk auth login"),
        "{}",
        error.message
    );

    let me: Me = get_me(&app, &app.api_key).await.json().await.unwrap();
    assert!(me.smashrun.unwrap().needs_relink);
    let nightly = app
        .adapters
        .store
        .active_smashrun_users(None, 1000)
        .await
        .unwrap();
    assert!(!nightly.contains(&app.user_id));

    let key = log_in(&app).await;
    let me: Me = get_me(&app, &key.api_key).await.json().await.unwrap();
    assert!(!me.smashrun.unwrap().needs_relink);
    let job = app.sync_and_wait(&json!({})).await;
    assert_eq!(job.status, JobStatus::Succeeded);
}

/// The store's compare-and-set: a save over a pair that is no longer current is refused.
#[tokio::test]
async fn tokens_are_saved_only_over_the_pair_that_was_read() {
    use stk_core::ports::SourceStore;
    let app = spawn_app().await;
    let store = &app.adapters.store;
    let read = store.smashrun_source(app.user_id).await.unwrap().unwrap();
    let mut newer = read.tokens.clone();
    newer.access_token = "access-newer".to_owned().into();
    let saved = store
        .save_tokens(
            app.user_id,
            &read.source_user_id,
            &newer,
            read.tokens_version,
        )
        .await
        .unwrap();
    assert_eq!(saved, Some(read.tokens_version + 1));
    let mut stale = read.tokens.clone();
    stale.access_token = "access-stale".to_owned().into();
    let lost = store
        .save_tokens(
            app.user_id,
            &read.source_user_id,
            &stale,
            read.tokens_version,
        )
        .await
        .unwrap();
    assert_eq!(lost, None);
    let now = store.smashrun_source(app.user_id).await.unwrap().unwrap();
    assert_eq!(now.tokens_version, read.tokens_version + 1);
    assert_eq!(
        secrecy::ExposeSecret::expose_secret(&now.tokens.access_token),
        "access-newer"
    );
}

/// Rotating refresh tokens, refreshed at half-life, twice in a row: each refresh stores the new
/// pair before using it, so the next one starts from the token SmashRun issued last.
#[tokio::test]
async fn rotating_refresh_tokens_are_refreshed_at_half_life_and_kept() {
    use stk_core::ports::SourceStore;
    let mut options = Options::default();
    options.sandbox.refresh_policy = smashrun_sandbox::RefreshPolicy::Rotating;
    let app = spawn_app_with(options).await;
    let store = &app.adapters.store;
    let mut refresh_tokens = Vec::new();
    for round in 0..2 {
        let source = store.smashrun_source(app.user_id).await.unwrap().unwrap();
        refresh_tokens
            .push(secrecy::ExposeSecret::expose_secret(&source.tokens.refresh_token).to_owned());
        // Past half its life: issued 50 days ago, 30 days left.
        let mut aged = source.tokens.clone();
        let now = time::OffsetDateTime::now_utc();
        aged.issued_at = now - time::Duration::days(50);
        aged.expires_at = now + time::Duration::days(30);
        store
            .save_tokens(
                app.user_id,
                &source.source_user_id,
                &aged,
                source.tokens_version,
            )
            .await
            .unwrap()
            .unwrap();
        app.sandbox_admin(reqwest::Method::POST, "/admin/counters/reset", None)
            .await;
        let job = app.sync_and_wait(&json!({})).await;
        assert_eq!(job.status, JobStatus::Succeeded, "round {round}");
        let counters = app
            .sandbox_admin(reqwest::Method::GET, "/admin/counters", None)
            .await;
        assert_eq!(
            counters["routes"]["POST /oauth2/token"], 1,
            "round {round}: {counters}"
        );
    }
    let last = store.smashrun_source(app.user_id).await.unwrap().unwrap();
    refresh_tokens
        .push(secrecy::ExposeSecret::expose_secret(&last.tokens.refresh_token).to_owned());
    refresh_tokens.dedup();
    assert_eq!(refresh_tokens.len(), 3, "each refresh rotated the token");
    assert!(!last.tokens.needs_refresh(time::OffsetDateTime::now_utc()));
}
