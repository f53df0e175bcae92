//! Hostile SmashRun data on the real stack: activities a store column cannot hold, mixed with
//! valid ones, never block the valid runs of their page, are listed with their reasons, and
//! leave every view answering.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;

use common::{Options, sandbox_config, spawn_app_with};
use serde_json::{Value, json};
use stk_protocol::JobStatus;

fn activity(id: i64, day: u32) -> Value {
    json!({
        "activityId": id,
        "startDateTimeLocal": format!("2026-01-{day:02}T07:00:00-05:00"),
        "distance": 5.0,
        "duration": 1800,
        "activityType": "running",
    })
}

#[tokio::test]
async fn hostile_activities_are_rejected_or_trimmed_and_the_valid_runs_land() {
    let mut valid: Vec<Value> = (1..=20).map(|d| activity(1000 + i64::from(d), d)).collect();
    // Valid runs with fields no column can hold: kept, the field dropped or made storable.
    valid[0]["calories"] = json!(5_000_000_000_i64);
    valid[1]["heartRateMax"] = json!(99_999);
    valid[2]["notes"] = json!("tempo\u{0}run");
    valid[3]["temperature"] = json!(1e300);
    valid[4]["dateUpdatedUTC"] = json!("0001-01-01T00:00:00");
    // Runs that cannot be stored as runs: rejected with a reason.
    let mut hostile = vec![activity(2001, 21), activity(2002, 22), activity(2003, 23)];
    hostile[0]["distance"] = json!(1e308);
    hostile[1]["duration"] = json!(1e15);
    hostile[2]["startDateTimeLocal"] = json!("2026-01-23T07:00:00+25:00");
    let mut all = valid.clone();
    all.extend(hostile);
    let app = spawn_app_with(Options {
        sandbox: sandbox_config(smashrun_sandbox::DataSource::Activities(all)),
        ..Options::default()
    })
    .await;

    let job = app.sync_and_wait(&json!({ "full": true })).await;
    assert_eq!(job.status, JobStatus::Succeeded);
    assert_eq!(job.progress.runs_inserted, 20, "{:?}", job.progress);
    assert_eq!(job.progress.activities_rejected, 3);
    // SmashRun lists newest first; sorted by id here.
    let mut rejected = job.progress.rejected.clone();
    rejected.sort_by(|a, b| a.activity_id.cmp(&b.activity_id));
    let reasons: Vec<_> = rejected.iter().map(|r| r.reason.clone()).collect();
    let ids: Vec<_> = rejected
        .iter()
        .filter_map(|r| r.activity_id.clone())
        .collect();
    assert_eq!(ids, ["2001", "2002", "2003"], "{reasons:?}");
    assert!(reasons[0].contains("over 1,000 km"), "{reasons:?}");
    assert!(reasons[1].contains("over 30 days"), "{reasons:?}");
    assert!(reasons[2].contains("startDateTimeLocal"), "{reasons:?}");

    let stored = app.stored_run(1001).await.unwrap();
    assert_eq!(stored["calories"], Value::Null);
    let stored = app.stored_run(1003).await.unwrap();
    assert_eq!(stored["notes"], "tempo\u{fffd}run");
    assert_eq!(stored["raw"]["notes"], "tempo\u{fffd}run");
    assert!(app.stored_run(2001).await.is_none());

    for path in [
        "/streak",
        "/stats",
        "/records",
        "/stats/monthly",
        "/runs",
        "/runs/recent",
    ] {
        assert_eq!(app.get_raw(path).await.status(), 200, "{path}");
    }
}
