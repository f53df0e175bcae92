//! The runner's views against the real stack, with hand-made histories: streak rules at day
//! boundaries, time zones, minimum distances, deleted runs, and a 20,000-run history.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;

use common::{Options, TestApp, spawn_app_with};
use serde_json::{Value, json};
use stk_core::activity::Run;
use stk_core::ports::RunStore;
use stk_protocol::{IsoDate, RunList, Settings, StreakSummary};
use time::Date;
use time::macros::format_description;

async fn app() -> TestApp {
    spawn_app_with(Options {
        worker: false,
        ..Options::default()
    })
    .await
}

fn date(d: IsoDate) -> Date {
    Date::parse(&d.to_string(), format_description!("[year]-[month]-[day]")).unwrap()
}

fn iso(d: Date) -> IsoDate {
    d.to_string().parse().unwrap()
}

/// A SmashRun activity at a local wall time with an offset.
fn activity(id: i64, start: &str, km: f64) -> Value {
    json!({"activityId": id, "startDateTimeLocal": start, "distance": km, "duration": km * 330.0})
}

impl TestApp {
    async fn put(&self, activities: &[Value]) {
        let runs: Vec<Run> = activities
            .iter()
            .map(|a| Run::from_smashrun(a).unwrap())
            .collect();
        let load = stk_core::JobId::random();
        self.adapters
            .store
            .upsert_runs(
                self.user_id,
                &runs,
                load,
                &stk_core::job::SourceCheckpoint::bulk_load(load, time::OffsetDateTime::now_utc()),
            )
            .await
            .unwrap();
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        let response = self.get_raw(path).await;
        assert_eq!(response.status(), 200, "{path}");
        response.json().await.unwrap()
    }

    async fn streak(&self) -> StreakSummary {
        self.get("/streak?top=5").await
    }

    async fn patch_settings(&self, body: Value) -> reqwest::Response {
        self.http
            .patch(self.url("/settings"))
            .bearer_auth(&self.api_key)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Runs one run a day at 07:00 on each of `days` (relative to `today`, 0 = today).
    async fn daily(&self, today: Date, days: impl IntoIterator<Item = i64>, first_id: i64) {
        let activities: Vec<Value> = days
            .into_iter()
            .enumerate()
            .map(|(i, back)| {
                let d = today - time::Duration::days(back);
                activity(first_id + i as i64, &format!("{d}T07:00:00-05:00"), 5.0)
            })
            .collect();
        self.put(&activities).await;
    }

    async fn mark_deleted(&self, activity_id: i64) {
        let response = self
            .runs_table(reqwest::Method::PATCH)
            .query(&[("source_activity_id", format!("eq.{activity_id}"))])
            .json(&json!({"deleted_at": "2026-01-01T00:00:00Z"}))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn today_not_yet_run_keeps_the_streak_alive_and_a_missed_yesterday_ends_it() {
    let app = app().await;
    let today = date(app.streak().await.today);
    // Ran the 10 days up to yesterday.
    app.daily(today, 1..=10, 1).await;
    let s = app.streak().await;
    let current = s.current.clone().expect("alive through yesterday");
    assert_eq!(current.days, 10);
    assert!(!current.today_done);
    assert_eq!(current.end, iso(today - time::Duration::days(1)));
    assert_eq!(s.run_count, 10);

    let other = self::app().await;
    // Ran the 10 days up to the day before yesterday: over.
    other.daily(today, 2..=11, 1).await;
    let s = other.streak().await;
    assert!(s.current.is_none(), "{s:?}");
    assert_eq!(s.longest.unwrap().days, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_a_day_count_once_and_midnight_splits_days() {
    let app = app().await;
    let today = date(app.streak().await.today);
    let d = |back: i64| today - time::Duration::days(back);
    app.put(&[
        activity(1, &format!("{}T06:00:00-05:00", d(3)), 5.0),
        activity(2, &format!("{}T18:00:00-05:00", d(3)), 3.0),
        // 23:59 and 00:01 local: two different streak days, although 2 minutes apart.
        activity(3, &format!("{}T23:59:00-05:00", d(2)), 2.0),
        activity(4, &format!("{}T00:01:00-05:00", d(1)), 2.0),
        activity(5, &format!("{}T12:00:00-05:00", d(0)), 4.0),
    ])
    .await;
    let s = app.streak().await;
    let current = s.current.unwrap();
    assert_eq!(current.days, 4);
    assert_eq!(current.runs, 5);
    assert!(current.today_done);
    assert!((current.distance_km - 16.0).abs() < 1e-9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_abroad_count_for_their_own_local_date() {
    let app = app().await;
    let today = date(app.streak().await.today);
    let d = |back: i64| today - time::Duration::days(back);
    app.put(&[
        // 07:30 in Tokyo is the previous evening in UTC and in New York: still its own day.
        activity(1, &format!("{}T07:30:00+09:00", d(2)), 5.0),
        // 22:30 in Los Angeles is the next day in UTC: still this day.
        activity(2, &format!("{}T22:30:00-08:00", d(1)), 5.0),
        activity(3, &format!("{}T08:00:00+01:00", d(3)), 5.0),
    ])
    .await;
    let current = app.streak().await.current.unwrap();
    assert_eq!(current.days, 3);
    assert_eq!(current.start, iso(d(3)));
    assert_eq!(current.end, iso(d(1)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dst_change_days_and_leap_days_are_ordinary_days() {
    let app = app().await;
    app.put(&[
        // US spring-forward 2024-03-10 (offset changes from -05:00 to -04:00 that morning).
        activity(1, "2024-03-09T07:00:00-05:00", 5.0),
        activity(2, "2024-03-10T01:30:00-05:00", 5.0),
        activity(3, "2024-03-11T07:00:00-04:00", 5.0),
        // Fall-back 2024-11-03: 01:30 happens twice; both runs are that one day.
        activity(4, "2024-11-02T07:00:00-04:00", 5.0),
        activity(5, "2024-11-03T01:30:00-04:00", 5.0),
        activity(6, "2024-11-03T01:30:00-05:00", 5.0),
        activity(7, "2024-11-04T07:00:00-05:00", 5.0),
        // Around a leap day.
        activity(8, "2024-02-28T07:00:00-05:00", 5.0),
        activity(9, "2024-02-29T07:00:00-05:00", 5.0),
        activity(10, "2024-03-01T07:00:00-05:00", 5.0),
    ])
    .await;
    let s = app.streak().await;
    let days: Vec<(String, u32)> = s
        .top
        .iter()
        .map(|t| (t.start.to_string(), t.days))
        .collect();
    assert!(days.contains(&("2024-03-09".into(), 3)), "{days:?}");
    assert!(days.contains(&("2024-11-02".into(), 3)), "{days:?}");
    assert!(days.contains(&("2024-02-28".into(), 3)), "{days:?}");
    let fall_back = s
        .top
        .iter()
        .find(|t| t.start.to_string() == "2024-11-02")
        .unwrap();
    assert_eq!(fall_back.runs, 4);
    assert!(s.current.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_below_the_minimum_distance_breaks_the_streak_once_a_minimum_is_set() {
    let app = app().await;
    let today = date(app.streak().await.today);
    let d = |back: i64| today - time::Duration::days(back);
    app.put(&[
        activity(1, &format!("{}T07:00:00-05:00", d(4)), 2.0),
        // 1.0 + 0.5 km: below a mile in total.
        activity(2, &format!("{}T07:00:00-05:00", d(3)), 1.0),
        activity(3, &format!("{}T19:00:00-05:00", d(3)), 0.5),
        activity(4, &format!("{}T07:00:00-05:00", d(2)), 2.0),
        activity(5, &format!("{}T07:00:00-05:00", d(1)), 2.0),
        // Today: some running, not yet a mile.
        activity(6, &format!("{}T07:00:00-05:00", d(0)), 1.0),
    ])
    .await;
    assert_eq!(
        app.streak().await.current.unwrap().days,
        5,
        "any run counts by default"
    );

    let response = app
        .patch_settings(json!({"min_streak_distance_km": 1.609344}))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response
            .json::<Settings>()
            .await
            .unwrap()
            .min_streak_distance_km,
        1.609344
    );
    let s = app.streak().await;
    let current = s.current.unwrap();
    assert_eq!(current.days, 2, "{current:?}");
    assert!(!current.today_done);
    assert!((current.distance_due_today_km - 0.609344).abs() < 1e-9);
    assert_eq!(s.longest.unwrap().days, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_run_inside_a_streak_breaks_it() {
    let app = app().await;
    let today = date(app.streak().await.today);
    app.daily(today, 1..=9, 100).await;
    assert_eq!(app.streak().await.current.unwrap().days, 9);
    // Activity 104 is the run 5 days ago.
    app.mark_deleted(104).await;
    let s = app.streak().await;
    assert_eq!(s.current.unwrap().days, 4);
    assert_eq!(s.run_count, 8);
    let runs: RunList = app.get("/runs?limit=100").await;
    assert_eq!(runs.total, 8);
    assert!(runs.runs.iter().all(|r| r.activity_id != 104));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_time_zone_decides_what_today_is() {
    let app = app().await;
    // Kiritimati is UTC+14 and Niue UTC-11: 25 hours apart, so their todays are one or (for an
    // hour each day) two days apart.
    let east: Settings = app
        .patch_settings(json!({"time_zone": "Pacific/Kiritimati"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(east.time_zone.as_deref(), Some("Pacific/Kiritimati"));
    let east_today = date(app.streak().await.today);
    app.patch_settings(json!({"time_zone": "Pacific/Niue"}))
        .await;
    let s = app.streak().await;
    assert!(s.time_zone_set);
    assert_eq!(s.time_zone, "Pacific/Niue");
    let apart = east_today - date(s.today);
    assert!(
        apart == time::Duration::days(1) || apart == time::Duration::days(2),
        "{apart}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_reject_unknown_zones_and_absurd_distances() {
    let app = app().await;
    for (body, needle) in [
        (
            json!({"time_zone": "Mars/Olympus_Mons"}),
            "unknown time zone",
        ),
        (json!({"time_zone": "../../etc/passwd"}), "not a time zone"),
        (json!({"min_streak_distance_km": -1}), "from 0 to 100"),
        (json!({"min_streak_distance_km": 1000}), "from 0 to 100"),
        (json!({}), "nothing to change"),
        (json!({"timezone": "UTC"}), "unknown field"),
    ] {
        let response = app.patch_settings(body.clone()).await;
        assert_eq!(response.status(), 400, "{body}");
        let error: Value = response.json().await.unwrap();
        assert!(
            error["error"]["message"].as_str().unwrap().contains(needle),
            "{body}: {error}"
        );
    }
    let settings: Settings = app.get("/settings").await;
    assert_eq!(settings.time_zone, None);
    assert_eq!(settings.min_streak_distance_km, 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_endpoints_validate_their_parameters() {
    let app = app().await;
    for path in [
        "/runs?limit=0",
        "/runs?limit=501",
        "/runs?offset=-1",
        "/runs?since=2024-02-30",
        "/runs?since=2024-03-02&until=2024-03-01",
        "/runs?sort=asc",
        "/runs/recent?limit=101",
        "/stats/monthly?limit=x",
        "/stats?user_id=someone-else",
        "/streak?top=51",
    ] {
        let response = app.get_raw(path).await;
        assert_eq!(response.status(), 400, "{path}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], "invalid_request", "{path}");
    }
    let response = app.http.get(app.url("/streak")).send().await.unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_page_with_a_total_and_stats_cover_every_run() {
    let app = app().await;
    let today = date(app.streak().await.today);
    app.daily(today, 0..1500, 10_000).await;
    let page: RunList = app.get("/runs?limit=500&offset=1200").await;
    assert_eq!(page.total, 1500);
    assert_eq!(page.runs.len(), 300);
    assert_eq!(page.runs[0].date, iso(today - time::Duration::days(1200)));
    let since = today - time::Duration::days(9);
    let ranged: RunList = app.get(&format!("/runs?since={since}&until={today}")).await;
    assert_eq!(ranged.total, 10);
    // Totals past PostgREST's 1000-row cap are still exact.
    let stats: stk_protocol::Stats = app.get("/stats").await;
    assert_eq!(stats.runs, 1500);
    assert!((stats.distance_km - 7500.0).abs() < 1e-6);
    assert_eq!(stats.days_run, 1500);
    let monthly: stk_protocol::MonthlyTotals = app.get("/stats/monthly?limit=600").await;
    assert_eq!(monthly.months.iter().map(|m| m.runs).sum::<u64>(), 1500);
    let recent: RunList = app.get("/runs/recent").await;
    assert_eq!(recent.runs.len(), 10);
    assert_eq!(recent.runs[0].date, iso(today));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_twenty_thousand_run_history_has_the_right_streaks_and_records() {
    let app = app().await;
    let today = date(app.streak().await.today);
    // 20,000 days up to yesterday with one gap 5,000 days ago, and a 42.2 km run 100 days ago.
    let days: Vec<i64> = (1..=20_001).filter(|d| *d != 5_000).collect();
    for (chunk_index, chunk) in days.chunks(1000).enumerate() {
        app.daily(
            today,
            chunk.iter().copied(),
            1_000_000 + chunk_index as i64 * 1000,
        )
        .await;
    }
    app.put(&[activity(
        5,
        &format!("{}T18:00:00-05:00", today - time::Duration::days(100)),
        42.2,
    )])
    .await;
    let s = app.streak().await;
    assert_eq!(s.run_count, 20_001);
    assert_eq!(s.current.as_ref().unwrap().days, 4_999);
    assert_eq!(s.longest.as_ref().unwrap().days, 15_001);
    assert_eq!(s.current.unwrap().days_to_record, 15_001 - 4_999);
    let records: stk_protocol::Records = app.get("/records").await;
    assert_eq!(records.longest_run.unwrap().activity_id, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stk_binary_reports_the_sandbox_streak_and_run_count_after_a_sync() {
    for profile in [
        smashrun_sandbox::Profile::Small,
        smashrun_sandbox::Profile::Streaker,
    ] {
        let app = spawn_app_with(Options {
            sandbox: common::sandbox_config(smashrun_sandbox::DataSource::Generated {
                profile,
                seed: 3,
            }),
            ..Options::default()
        })
        .await;
        app.sync_and_wait(&json!({})).await;
        let expected = app.sandbox_summary().await;

        let config = app.cli_config();
        let output = app.run_stk(config.path(), &["streak", "--json"]).await;
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let streak: StreakSummary = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(
            streak.longest.as_ref().unwrap().days,
            expected.longest_streak,
            "{profile:?}"
        );
        assert_eq!(streak.run_count, expected.run_count, "{profile:?}");
        assert_eq!(
            streak.current.as_ref().map_or(0, |c| c.days),
            expected.current_streak,
            "{profile:?}"
        );
    }
}
