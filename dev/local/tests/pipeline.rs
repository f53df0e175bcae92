//! The sync pipeline end to end on the real local stack: API router over HTTP, DynamoDB and SQS
//! in moto, the worker fed by an SQS poller, the SmashRun sandbox over HTTP, and runs landing in
//! PostgreSQL through PostgREST.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;

use std::time::Duration;

use common::{Options, TestApp, sandbox_config, spawn_app, spawn_app_with};
use reqwest::Method;
use serde_json::json;
use smashrun_sandbox::DataSource;
use stk_core::ports::SourceStore;
use stk_protocol::{JobStatus, SyncJob, SyncKind};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_sync_matches_the_sandbox_and_a_second_sync_changes_nothing() {
    let app = spawn_app().await;
    let expected = app.sandbox_summary().await;

    let job = app.sync_and_wait(&json!({})).await;
    assert_eq!(job.kind, SyncKind::Incremental);
    assert_eq!(job.progress.activities_seen, expected.activity_count);
    assert_eq!(job.progress.runs_inserted, expected.activity_count);
    assert_eq!(job.progress.expected_total, Some(expected.run_count));
    let pages = expected.activity_count.div_ceil(100).max(1);
    assert!(u64::from(job.progress.pages) >= pages);
    // One SmashRun request per page, plus the run count and the listing; one store request per
    // page, plus the source, the reconciliation, the counts and the cursor.
    assert_eq!(
        job.progress.smashrun_requests,
        u64::from(job.progress.pages) + 2
    );
    assert_eq!(
        job.progress.store_requests,
        u64::from(job.progress.pages) + 4
    );

    let stored = app.adapters.store.run_summary(app.user_id).await.unwrap();
    assert_eq!(stored.run_count, expected.run_count);
    assert_eq!(stored.longest_streak, expected.longest_streak);

    let again = app.sync_and_wait(&json!({})).await;
    assert_ne!(again.id, job.id);
    assert_eq!(again.progress.runs_inserted, 0);
    assert_eq!(again.progress.runs_updated, 0);
    let after = app.adapters.store.run_summary(app.user_id).await.unwrap();
    assert_eq!(after.run_count, expected.run_count);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_sync_picks_up_added_and_edited_runs() {
    let app = spawn_app().await;
    app.sync_and_wait(&json!({})).await;

    let added = app
        .sandbox_admin(
            Method::POST,
            "/admin/activities",
            Some(json!({"startDateTimeLocal": "2021-06-01T06:30:00-04:00", "distance": 8.04672, "duration": 2400})),
        )
        .await;
    let added_id = added["activityId"].as_i64().unwrap();
    // Edit the oldest-synced run through the sandbox: it moves dateUpdatedUTC.
    let first = app.stored_any_run().await;
    app.sandbox_admin(
        Method::PATCH,
        &format!("/admin/activities/{first}"),
        Some(json!({"notes": "felt great", "distance": 10.5})),
    )
    .await;

    let job = app.sync_and_wait(&json!({})).await;
    assert_eq!(job.progress.runs_inserted, 1, "{job:?}");
    assert_eq!(job.progress.runs_updated, 1, "{job:?}");
    // The late upload is there although its run date is years before the cursor.
    let row = app.stored_run(added_id).await.expect("added run stored");
    assert_eq!(row["local_date"], "2021-06-01");
    let edited = app.stored_run(first).await.unwrap();
    assert_eq!(edited["notes"], "felt great");
    assert_eq!(edited["distance_km"], 10.5);
}

impl TestApp {
    async fn stored_any_run(&self) -> i64 {
        let rows: Vec<serde_json::Value> = self
            .runs_table(Method::GET)
            .query(&[
                ("select", "source_activity_id".to_owned()),
                ("order", "local_date.asc".to_owned()),
                ("limit", "1".to_owned()),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        rows[0]["source_activity_id"].as_i64().unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stk_binary_waits_for_a_sync_to_finish() {
    let app = spawn_app().await;
    let config = app.cli_config();
    let output = app
        .run_stk(config.path(), &["sync", "--wait", "--json"])
        .await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "stk failed: {stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let job: SyncJob = serde_json::from_str(&stdout).unwrap();
    assert_eq!(job.status, JobStatus::Succeeded);
    assert_eq!(
        job.progress.runs_inserted,
        app.sandbox_summary().await.activity_count
    );
    assert!(!stdout.contains(&app.api_key));

    let text = app.run_stk(config.path(), &["sync", "status"]).await;
    assert!(text.status.success());
    assert!(String::from_utf8_lossy(&text.stdout).contains(&job.id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_message_for_a_finished_job_changes_nothing() {
    let app = spawn_app().await;
    let job = app.sync_and_wait(&json!({})).await;
    let sqs = aws_sdk_sqs::Client::new(&app.aws);
    let body = json!({"job_id": job.id, "user_id": app.user_id}).to_string();
    sqs.send_message()
        .queue_url(&app.adapters.settings.queue_url)
        .message_body(body)
        .send()
        .await
        .unwrap();
    // The poller takes it and deletes it; wait for the queue to drain.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(&app.adapters.settings.queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap_or_default();
        let count = |name| {
            attrs
                .get(&name)
                .and_then(|v: &String| v.parse::<u32>().ok())
                .unwrap_or(0)
        };
        if count(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages) == 0
            && count(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
                == 0
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the duplicate was not consumed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.get_job(&job.id).await, job);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_smashrun_samples_sync_faithfully() {
    let samples = common::checkout_root().join("dev/fixtures/smashrun-activities-summary.json");
    let app = spawn_app_with(Options {
        sandbox: sandbox_config(DataSource::File(samples)),
        ..Options::default()
    })
    .await;
    let job = app.sync_and_wait(&json!({"full": true})).await;
    assert_eq!(job.kind, SyncKind::Full);
    assert_eq!(job.progress.runs_inserted, 200);
    assert_eq!(job.progress.activities_rejected, 0);
    assert_eq!(job.progress.pages, 3);

    // An integral duration, an evening run's local date, 0/1 flags and a kept raw document.
    let run = app.stored_run(31304734).await.unwrap();
    assert_eq!(run["duration_s"], 3086.0);
    assert_eq!(run["local_date"], "2022-10-30");
    assert_eq!(run["utc_offset_minutes"], -240);
    assert_eq!(run["is_treadmill"], false);
    assert_eq!(run["source_app"], "garminhealth");
    assert_eq!(run["raw"]["externalId"], "9886066281");
    let summary = app.adapters.store.run_summary(app.user_id).await.unwrap();
    assert_eq!(summary.run_count, 200);
    assert_eq!(
        summary.longest_streak,
        app.sandbox_summary().await.longest_streak
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_request_returns_the_active_job_and_keys_are_idempotent() {
    let app = spawn_app_with(Options {
        worker: false,
        ..Options::default()
    })
    .await;
    let first = app.post_sync(&json!({})).await;
    assert_eq!(first.status(), 202);
    let location = first.headers()["location"].to_str().unwrap().to_owned();
    let first: SyncJob = first.json().await.unwrap();
    assert_eq!(location, format!("/sync/{}", first.id));
    assert_eq!(first.status, JobStatus::Queued);

    let second = app.post_sync(&json!({"full": true})).await;
    assert_eq!(second.status(), 200);
    assert_eq!(second.json::<SyncJob>().await.unwrap().id, first.id);

    let listed: stk_protocol::SyncJobList = app.get_raw("/sync").await.json().await.unwrap();
    assert_eq!(listed.jobs.len(), 1);
    assert_eq!(listed.jobs[0].id, first.id);

    let keyed = |key: &'static str| {
        app.http
            .post(app.url("/sync"))
            .bearer_auth(&app.api_key)
            .header("Idempotency-Key", key)
            .json(&json!({}))
            .send()
    };
    assert_eq!(
        keyed("k-1")
            .await
            .unwrap()
            .json::<SyncJob>()
            .await
            .unwrap()
            .id,
        first.id
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_clear_json_errors_and_never_a_500() {
    let app = spawn_app_with(Options {
        worker: false,
        ..Options::default()
    })
    .await;
    let other = spawn_app_with(Options {
        worker: false,
        ..Options::default()
    })
    .await;
    let their_job = other.start_sync(&json!({})).await;

    let raw = |body: &'static str, content_type: &'static str| {
        app.http
            .post(app.url("/sync"))
            .bearer_auth(&app.api_key)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let cases: Vec<(&str, reqwest::Response, u16, &str)> = vec![
        (
            "malformed json",
            raw("{\"full\": ", "application/json").await.unwrap(),
            400,
            "invalid_body",
        ),
        (
            "not an object",
            raw("[1,2]", "application/json").await.unwrap(),
            400,
            "invalid_body",
        ),
        (
            "wrong type",
            raw("{\"full\": \"yes\"}", "application/json")
                .await
                .unwrap(),
            400,
            "invalid_body",
        ),
        (
            "unknown field",
            raw("{\"fulll\": true}", "application/json").await.unwrap(),
            400,
            "invalid_body",
        ),
        (
            // serde quotes the field name; a message cut off a character boundary panicked.
            "unknown multi-byte field name",
            raw(
                "{\"\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}\u{1f3c3}é\": true}",
                "application/json",
            )
            .await
            .unwrap(),
            400,
            "invalid_body",
        ),
        (
            "not a date",
            raw("{\"since\": \"yesterday\"}", "application/json")
                .await
                .unwrap(),
            400,
            "invalid_body",
        ),
        (
            "impossible date",
            raw("{\"since\": \"2023-02-29\"}", "application/json")
                .await
                .unwrap(),
            400,
            "invalid_body",
        ),
        (
            "since after until",
            raw(
                "{\"since\": \"2024-03-02\", \"until\": \"2024-03-01\"}",
                "application/json",
            )
            .await
            .unwrap(),
            400,
            "invalid_request",
        ),
        (
            "full with a range",
            raw(
                "{\"full\": true, \"since\": \"2024-03-02\"}",
                "application/json",
            )
            .await
            .unwrap(),
            400,
            "invalid_request",
        ),
        (
            "not json",
            raw("full=true", "application/x-www-form-urlencoded")
                .await
                .unwrap(),
            415,
            "unsupported_media_type",
        ),
        (
            "oversized",
            // A connection of its own: the server answers 413 without reading the body and
            // closes the connection, which a pooled client could otherwise reuse for the next case.
            reqwest::Client::new()
                .post(app.url("/sync"))
                .bearer_auth(&app.api_key)
                .header("content-type", "application/json")
                .body(format!("{{\"pad\": \"{}\"}}", "x".repeat(64 * 1024)))
                .send()
                .await
                .unwrap(),
            413,
            "body_too_large",
        ),
        (
            "no key",
            app.http
                .post(app.url("/sync"))
                .json(&json!({}))
                .send()
                .await
                .unwrap(),
            401,
            "unauthorized",
        ),
        (
            "malformed key",
            app.http
                .get(app.url("/sync"))
                .bearer_auth("stk_nope")
                .send()
                .await
                .unwrap(),
            401,
            "unauthorized",
        ),
        (
            "unknown key",
            app.http
                .get(app.url("/sync"))
                .bearer_auth(stk_core::auth::ApiKey::generate().unwrap().expose())
                .send()
                .await
                .unwrap(),
            401,
            "unauthorized",
        ),
        (
            "another user's job",
            app.get_raw(&format!("/sync/{}", their_job.id)).await,
            404,
            "not_found",
        ),
        (
            "unknown job",
            app.get_raw(&format!("/sync/{}", uuid::Uuid::new_v4()))
                .await,
            404,
            "not_found",
        ),
        (
            "not a job id",
            app.get_raw("/sync/..%2F..%2Fetc").await,
            404,
            "not_found",
        ),
        (
            "bad limit",
            app.get_raw("/sync?limit=100000").await,
            400,
            "invalid_request",
        ),
        (
            "no route",
            app.http.get(app.url("/nope")).send().await.unwrap(),
            404,
            "not_found",
        ),
        (
            "wrong method",
            app.http.delete(app.url("/sync")).send().await.unwrap(),
            405,
            "method_not_allowed",
        ),
    ];
    for (name, response, status, code) in cases {
        assert_eq!(response.status().as_u16(), status, "{name}");
        let body: serde_json::Value = response
            .json()
            .await
            .unwrap_or_else(|e| panic!("{name}: body is not JSON: {e}"));
        assert_eq!(body["error"]["code"], code, "{name}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(!message.is_empty(), "{name}");
        assert!(!message.contains(&app.api_key), "{name} leaks the key");
    }
    // None of that created a job.
    let listed: stk_protocol::SyncJobList = app.get_raw("/sync").await.json().await.unwrap();
    assert!(listed.jobs.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_access_token_is_refreshed_and_the_new_pair_stored() {
    let app = spawn_app().await;
    let before = app
        .adapters
        .store
        .smashrun_source(app.user_id)
        .await
        .unwrap()
        .unwrap();
    app.sandbox_admin(Method::POST, "/admin/tokens/expire", None)
        .await;
    app.sync_and_wait(&json!({})).await;
    let after = app
        .adapters
        .store
        .smashrun_source(app.user_id)
        .await
        .unwrap()
        .unwrap();
    assert!(after.tokens.issued_at > before.tokens.issued_at);
    assert!(after.tokens.expires_at > before.tokens.expires_at);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_authorisation_fails_the_job_with_login_advice() {
    let app = spawn_app().await;
    app.sandbox_admin(Method::POST, "/admin/tokens/revoke", None)
        .await;
    let job = app.start_sync(&json!({})).await;
    let done = app.wait_for(&job.id).await;
    assert_eq!(done.status, JobStatus::Failed);
    let error = done.error.unwrap();
    assert_eq!(error.code, "smashrun_auth");
    assert!(error.message.contains("stk auth login"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smashrun_failures_are_retried_and_a_failed_delivery_resumes_from_its_checkpoint() {
    let app = spawn_app_with(Options {
        sandbox: sandbox_config(DataSource::Generated {
            profile: smashrun_sandbox::Profile::Small,
            seed: 11,
        }),
        ..Options::default()
    })
    .await;
    // More consecutive 503s than one delivery retries (the count's five, tolerated, then the
    // first page's five): the first delivery waits a backoff, the message comes back after it,
    // and the job finishes on the second.
    app.sandbox_admin(
        Method::POST,
        "/admin/faults",
        Some(json!({"fail_next": {"status": 503, "count": 12}})),
    )
    .await;
    let job = app.start_sync(&json!({"full": true})).await;
    let done = app.wait_for(&job.id).await;
    assert_eq!(done.status, JobStatus::Succeeded, "{done:?}");
    assert_eq!(done.attempts, 2, "{done:?}");
    assert_eq!(
        done.progress.runs_inserted,
        app.sandbox_summary().await.activity_count
    );
    assert!(done.progress.smashrun_requests >= 13, "{done:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_twenty_thousand_run_history_syncs_in_one_request_per_hundred_runs() {
    let app = spawn_app_with(Options {
        sandbox: sandbox_config(DataSource::Generated {
            profile: smashrun_sandbox::Profile::Lifetime,
            seed: 42,
        }),
        ..Options::default()
    })
    .await;
    let expected = app.sandbox_summary().await;
    assert!(expected.activity_count >= 20_000);
    let job = app.sync_and_wait(&json!({"full": true})).await;
    assert_eq!(job.progress.runs_inserted, expected.activity_count);
    let pages = expected.activity_count / 100 + 1;
    assert_eq!(u64::from(job.progress.pages), pages);
    // The minimum: one SmashRun request per page (+ the run count, + the listing); at most one
    // store request per page (pages fetched while one is stored share the next upsert), + the
    // source, the reconciliation, the counts, the cursor.
    assert_eq!(job.progress.smashrun_requests, pages + 2);
    assert!(job.progress.store_requests <= pages + 4, "{job:?}");
    let stored = app.adapters.store.run_summary(app.user_id).await.unwrap();
    assert_eq!(stored.run_count, expected.run_count);
    assert_eq!(stored.longest_streak, expected.longest_streak);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sync_marks_runs_deleted_upstream_from_smashrun_s_listing() {
    let app = spawn_app().await;
    app.sync_and_wait(&json!({})).await;
    let gone = app.stored_any_run().await;
    app.sandbox_admin(Method::DELETE, &format!("/admin/activities/{gone}"), None)
        .await;

    // An incremental sync pages only what changed, but reconciles against every id listed.
    let incremental = app.sync_and_wait(&json!({})).await;
    assert_eq!(incremental.progress.runs_deleted, 1, "{incremental:?}");
    assert_eq!(
        incremental.progress.runs_inserted + incremental.progress.runs_updated,
        0,
        "{incremental:?}"
    );
    let full = app.sync_and_wait(&json!({"full": true})).await;
    assert_eq!(full.progress.runs_deleted, 0, "already marked: {full:?}");
    let row = app.stored_run(gone).await.unwrap();
    assert!(
        row["deleted_at"].is_string(),
        "the run is kept, marked deleted: {row}"
    );
    let summary = app.adapters.store.run_summary(app.user_id).await.unwrap();
    assert_eq!(summary.run_count, app.sandbox_summary().await.run_count);
}
