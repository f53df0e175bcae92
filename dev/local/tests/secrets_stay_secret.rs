//! No secret leaves its place: after a login and a sync on the real stack, no SmashRun token,
//! API key, session secret or client secret is found in any log line of the backend, in the
//! `stk` binary's output (at its most verbose), in an error body, or in a raw database column
//! or login session record; keys and secrets are stored only as hashes.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::{Options, open_login_session, psql, spawn_app_with};
use serde_json::json;
use sha2::{Digest, Sha256};
use stk_core::ports::SourceStore;

/// Every log line of the in-process backend (API, auth, worker, adapters), at debug level.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Self;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn no_secret_is_logged_answered_or_stored_in_clear() {
    let logs = Captured::default();
    tracing_subscriber::fmt()
        .with_env_filter("debug")
        .with_writer(logs.clone())
        .with_ansi(false)
        .init();
    let options = Options::default();
    let client_secret = options.sandbox.client_secret.clone();
    let app = spawn_app_with(options).await;
    let mut seen = String::new();

    // A login through the API, with a secret of its own.
    let (session, secret) = open_login_session(&app).await;
    let id = session.session_id;
    let page = app.http.get(&session.authorize_url).send().await.unwrap();
    seen.push_str(&page.text().await.unwrap());
    let issued: serde_json::Value = app
        .http
        .post(app.url(&format!("/auth/sessions/{id}/token")))
        .json(&json!({ "session_secret": secret }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = issued["api_key"].as_str().unwrap().to_owned();

    // Error bodies: a wrong secret, a spent session, a refused key.
    for response in [
        app.http
            .post(app.url(&format!("/auth/sessions/{id}/token")))
            .json(&json!({ "session_secret": secret }))
            .send()
            .await
            .unwrap(),
        app.http
            .get(app.url("/me"))
            .bearer_auth(format!("{key}x"))
            .send()
            .await
            .unwrap(),
    ] {
        seen.push_str(&response.text().await.unwrap());
    }

    // A sync through the real binary, as verbose as it gets.
    let config = tempfile::tempdir().unwrap();
    std::fs::write(
        config.path().join("config.json"),
        json!({ "apis": { &app.api_url: { "api_key": key } } }).to_string(),
    )
    .unwrap();
    let out = app
        .run_stk(config.path(), &["sync", "--wait", "-vv", "--json"])
        .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    seen.push_str(&String::from_utf8_lossy(&out.stdout));
    seen.push_str(&String::from_utf8_lossy(&out.stderr));

    let source = app
        .adapters
        .store
        .smashrun_source(app.user_id)
        .await
        .unwrap()
        .unwrap();
    let access = secrecy::ExposeSecret::expose_secret(&source.tokens.access_token).to_owned();
    let refresh = secrecy::ExposeSecret::expose_secret(&source.tokens.refresh_token).to_owned();
    let secrets = [
        ("the SmashRun access token", access.as_str()),
        ("the SmashRun refresh token", refresh.as_str()),
        ("the API key", key.as_str()),
        ("the session secret", secret.as_str()),
        ("the SmashRun client secret", client_secret.as_str()),
    ];

    seen.push_str(&String::from_utf8_lossy(&logs.0.lock().unwrap()));
    assert!(seen.len() > 1000, "the backend logged: {seen}");
    for (what, value) in secrets {
        assert!(value.len() >= 8, "{what} is too short to search for");
        assert!(
            !seen.contains(value),
            "{what} appears in a log line or an answer"
        );
    }

    // Raw columns: tokens only encrypted, keys only hashed.
    let raw = psql(&format!(
        "select row_to_json(s)::text from user_sources s where user_id = '{}' \
         union all select row_to_json(k)::text from api_keys k where user_id = '{}'",
        app.user_id, app.user_id
    ))
    .join("\n");
    assert!(raw.contains(&hex::encode(Sha256::digest(key.as_bytes()))));
    for (what, value) in secrets {
        assert!(!raw.contains(value), "{what} is stored in clear: {raw}");
    }

    // The login session's record holds the secret's hash, never the secret or the key.
    let item = aws_sdk_dynamodb::Client::new(&app.aws)
        .get_item()
        .table_name(&app.names.table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("login#{id}")),
        )
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let record = format!("{item:?}");
    assert!(record.contains(&hex::encode(Sha256::digest(secret.as_bytes()))));
    for (what, value) in secrets {
        assert!(!record.contains(value), "{what} is in the session record");
    }
}
