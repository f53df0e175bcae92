#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use stk_protocol::{IsoDate, JobStatus, SyncKind};
use time::OffsetDateTime;
use time::macros::datetime;

use super::*;
use crate::fakes::*;
use crate::job::{Job, SyncSpec};
use crate::ports::SmashrunSource;

struct World {
    engine: SyncEngine,
    jobs: Arc<MemJobs>,
    smashrun: Arc<MemSmashrun>,
    store: Arc<MemStore>,
    clock: Arc<FixedClock>,
    user: UserId,
}

fn activity(id: i64, date: &str) -> Value {
    json!({
        "activityId": id, "startDateTimeLocal": format!("{date}T07:00:00-05:00"),
        "distance": 5.0, "duration": 1800, "dateCreatedUTC": format!("{date}T13:00:00.1")
    })
}

/// `n` activities on consecutive days ending 2026-01-31, newest first.
fn history(n: i64) -> Vec<Value> {
    let last = time::macros::date!(2026 - 01 - 31);
    (0..n)
        .map(|i| activity(10_000 - i, &(last - time::Duration::days(i)).to_string()))
        .collect()
}

fn world(activities: Vec<Value>) -> World {
    let now = datetime!(2026-02-01 12:00 UTC);
    let jobs = Arc::new(MemJobs::default());
    let smashrun = Arc::new(MemSmashrun::default());
    *smashrun.activities.lock().unwrap() = activities;
    smashrun
        .valid_access
        .lock()
        .unwrap()
        .push("access-0".into());
    smashrun
        .valid_refresh
        .lock()
        .unwrap()
        .push("refresh-0".into());
    let store = Arc::new(MemStore::default());
    let user = UserId::new(uuid::Uuid::from_u128(7));
    store.sources.lock().unwrap().insert(
        user,
        SmashrunSource {
            source_user_id: "101".into(),
            tokens: TokenSet {
                access_token: "access-0".into(),
                refresh_token: "refresh-0".into(),
                issued_at: now - time::Duration::days(1),
                expires_at: now + time::Duration::days(80),
            },
            tokens_version: 0,
            sync_cursor: None,
        },
    );
    let clock = Arc::new(FixedClock(Mutex::new(now)));
    let settings = EngineSettings {
        retry_min_delay: Duration::from_millis(1),
        retry_max_delay: Duration::from_millis(2),
        ..EngineSettings::default()
    };
    let engine = SyncEngine::new(
        jobs.clone(),
        smashrun.clone(),
        store.clone(),
        store.clone(),
        clock.clone(),
        settings,
        "test".into(),
    );
    World {
        engine,
        jobs,
        smashrun,
        store,
        clock,
        user,
    }
}

impl World {
    async fn queue(&self, spec: SyncSpec) -> JobMessage {
        let job = Job::new(self.user, spec, self.clock.now());
        self.jobs.create(&job, None).await.unwrap();
        JobMessage {
            job_id: job.id,
            user_id: self.user,
        }
    }

    async fn job(&self, message: JobMessage) -> Job {
        self.jobs.get(message.job_id).await.unwrap().unwrap()
    }

    fn advance(&self, by: time::Duration) {
        *self.clock.0.lock().unwrap() += by;
    }
}

fn range(since: Option<&str>, until: Option<&str>) -> SyncSpec {
    SyncSpec {
        kind: SyncKind::Range,
        since: since.map(|s| s.parse::<IsoDate>().unwrap()),
        until: until.map(|s| s.parse::<IsoDate>().unwrap()),
    }
}

#[tokio::test]
async fn full_sync_pages_through_everything_once() {
    let w = world(history(250));
    let msg = w.queue(SyncSpec::incremental()).await;
    assert_eq!(w.engine.handle(msg, 1).await.unwrap(), Outcome::Succeeded);
    let job = w.job(msg).await;
    assert_eq!(job.status, JobStatus::Succeeded);
    assert_eq!(job.progress.pages, 3);
    assert_eq!(job.progress.activities_seen, 250);
    assert_eq!(job.progress.runs_inserted, 250);
    assert_eq!(job.progress.expected_total, Some(250));
    // One count request plus one per page; one store request per page plus the cursor.
    assert_eq!(job.progress.smashrun_requests, 4);
    assert_eq!(job.progress.store_requests, 4);
    assert_eq!(w.store.runs.lock().unwrap().len(), 250);
    assert_eq!(
        w.store.sources.lock().unwrap()[&w.user].sync_cursor,
        job.checkpoint.cursor_candidate
    );
}

#[tokio::test]
async fn second_incremental_sync_asks_from_cursor_minus_overlap_and_changes_nothing() {
    let w = world(history(120));
    let first = w.queue(SyncSpec::incremental()).await;
    w.engine.handle(first, 1).await.unwrap();
    let cursor = w.job(first).await.checkpoint.cursor_candidate.unwrap();
    w.advance(time::Duration::hours(5));
    let second = w.queue(SyncSpec::incremental()).await;
    w.engine.handle(second, 1).await.unwrap();
    let job = w.job(second).await;
    assert_eq!(
        job.checkpoint.from_utc,
        Some(cursor - time::Duration::days(1))
    );
    let last_search = *w.smashrun.searches.lock().unwrap().last().unwrap();
    assert_eq!(last_search.1, Some(cursor - time::Duration::days(1)));
    assert_eq!(job.progress.runs_inserted + job.progress.runs_updated, 0);
    assert_eq!(job.progress.runs_unchanged, 120);
}

#[tokio::test]
async fn duplicate_delivery_of_a_finished_job_changes_nothing() {
    let w = world(history(30));
    let msg = w.queue(SyncSpec::incremental()).await;
    w.engine.handle(msg, 1).await.unwrap();
    let before = w.job(msg).await;
    let upserts = *w.store.upserts.lock().unwrap();
    assert_eq!(w.engine.handle(msg, 2).await.unwrap(), Outcome::Skipped);
    assert_eq!(w.job(msg).await, before);
    assert_eq!(*w.store.upserts.lock().unwrap(), upserts);
}

#[tokio::test]
async fn transient_failures_are_retried_within_the_delivery() {
    let w = world(history(150));
    w.smashrun.search_failures.lock().unwrap().extend([
        SmashrunError::Server { status: 503 },
        SmashrunError::RateLimited {
            retry_after: Some(Duration::from_millis(1)),
        },
    ]);
    *w.store.fail_upserts.lock().unwrap() = 1;
    let msg = w.queue(SyncSpec::incremental()).await;
    assert_eq!(w.engine.handle(msg, 1).await.unwrap(), Outcome::Succeeded);
    let job = w.job(msg).await;
    assert_eq!(job.progress.runs_inserted, 150);
    assert_eq!(job.progress.smashrun_requests, 1 + 2 + 2);
    assert_eq!(job.progress.store_requests, 2 + 1 + 1);
}

#[tokio::test]
async fn persistent_failure_resumes_from_the_checkpoint_on_redelivery() {
    let w = world(history(250));
    let msg = w.queue(SyncSpec::incremental()).await;
    // Page 0's upsert succeeds; page 1's fails on every retry of the first delivery.
    *w.store.fail_from_call.lock().unwrap() = Some(2);
    let result = w.engine.handle(msg, 1).await;
    assert!(matches!(result, Err(RetryLater::Store(_))), "{result:?}");
    let mid = w.job(msg).await;
    assert_eq!(mid.status, JobStatus::Running);
    assert_eq!(mid.checkpoint.next_page, 1);
    assert_eq!(mid.progress.runs_inserted, 100);

    *w.store.fail_from_call.lock().unwrap() = None;
    // The lease was handed back, so the redelivery can claim the job at once.
    assert_eq!(w.engine.handle(msg, 2).await.unwrap(), Outcome::Succeeded);
    let done = w.job(msg).await;
    assert_eq!(done.attempts, 2);
    assert_eq!(done.progress.runs_inserted, 250);
    assert_eq!(done.progress.pages, 3);
    assert_eq!(w.store.runs.lock().unwrap().len(), 250);
    let pages: Vec<u32> = w
        .smashrun
        .searches
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.0)
        .collect();
    assert_eq!(pages, vec![0, 1, 1, 2], "page 0 must not be fetched again");
}

#[tokio::test]
async fn last_delivery_marks_the_job_failed_with_advice() {
    let w = world(history(10));
    for _ in 0..10 {
        w.smashrun
            .search_failures
            .lock()
            .unwrap()
            .push_back(SmashrunError::Server { status: 502 });
    }
    let msg = w.queue(SyncSpec::incremental()).await;
    assert_eq!(w.engine.handle(msg, 5).await.unwrap(), Outcome::Failed);
    let job = w.job(msg).await;
    assert_eq!(job.status, JobStatus::Failed);
    let error = job.error.unwrap();
    assert_eq!(error.code, "smashrun_unavailable");
    assert!(error.message.contains("stk sync"));
    // The slot is free again.
    assert!(w.jobs.active.lock().unwrap().is_empty());
}

#[tokio::test]
async fn expired_access_token_is_refreshed_once_and_stored() {
    let w = world(history(20));
    w.smashrun.valid_access.lock().unwrap().clear();
    let msg = w.queue(SyncSpec::incremental()).await;
    assert_eq!(w.engine.handle(msg, 1).await.unwrap(), Outcome::Succeeded);
    assert_eq!(*w.smashrun.refreshes.lock().unwrap(), 1);
    let stored = w.store.sources.lock().unwrap()[&w.user].tokens.clone();
    assert_eq!(
        secrecy::ExposeSecret::expose_secret(&stored.access_token),
        "access-1"
    );
    // SmashRun sent no new refresh token: the old one is kept.
    assert_eq!(
        secrecy::ExposeSecret::expose_secret(&stored.refresh_token),
        "refresh-0"
    );
}

#[tokio::test]
async fn tokens_past_half_life_are_refreshed_before_syncing() {
    let w = world(history(5));
    w.advance(time::Duration::days(45));
    let msg = w.queue(SyncSpec::incremental()).await;
    w.engine.handle(msg, 1).await.unwrap();
    assert_eq!(*w.smashrun.refreshes.lock().unwrap(), 1);
}

#[tokio::test]
async fn refused_refresh_fails_the_job_with_login_advice() {
    let w = world(history(5));
    w.smashrun.valid_access.lock().unwrap().clear();
    w.smashrun.valid_refresh.lock().unwrap().clear();
    let msg = w.queue(SyncSpec::incremental()).await;
    assert_eq!(w.engine.handle(msg, 1).await.unwrap(), Outcome::Failed);
    let error = w.job(msg).await.error.unwrap();
    assert_eq!(error.code, "smashrun_auth");
    assert!(
        error.message.contains("stk auth login"),
        "{}",
        error.message
    );
    assert_eq!(*w.store.needs_relink.lock().unwrap(), [w.user]);
}

/// Two workers refresh the same rotating refresh token at once: the one SmashRun refuses
/// (the token rotated under it) uses the pair the other stored, and nothing needs relinking.
#[tokio::test]
async fn a_refresh_that_loses_the_race_uses_the_pair_the_winner_stored() {
    for grace in [false, true] {
        let w = world(history(5));
        w.smashrun.valid_access.lock().unwrap().clear();
        *w.smashrun.race.lock().unwrap() = Some((w.store.clone(), w.user, grace));
        let msg = w.queue(SyncSpec::incremental()).await;
        assert_eq!(
            w.engine.handle(msg, 1).await.unwrap(),
            Outcome::Succeeded,
            "grace {grace}"
        );
        let source = w.store.sources.lock().unwrap()[&w.user].clone();
        // The winner's pair stands: the loser's save (when it got one) did not overwrite it.
        assert_eq!(source.tokens_version, 1, "grace {grace}");
        assert_eq!(
            secrecy::ExposeSecret::expose_secret(&source.tokens.refresh_token),
            "refresh-winner"
        );
        assert!(w.store.needs_relink.lock().unwrap().is_empty());
        assert_eq!(w.job(msg).await.progress.runs_inserted, 5);
    }
}

#[tokio::test]
async fn range_sync_keeps_only_dates_in_range_and_stops_paging_early() {
    // 400 days newest first: 2026-01-31 back to 2024-12-28.
    let w = world(history(400));
    let msg = w.queue(range(Some("2025-12-01"), Some("2025-12-31"))).await;
    w.engine.handle(msg, 1).await.unwrap();
    let job = w.job(msg).await;
    assert_eq!(job.progress.runs_inserted, 31);
    assert_eq!(
        job.progress.pages, 1,
        "page 0 already reaches before 2025-12-01"
    );
    // A range sync leaves the incremental cursor alone.
    assert_eq!(w.store.sources.lock().unwrap()[&w.user].sync_cursor, None);
}

#[tokio::test]
async fn unreadable_and_duplicate_activities_do_not_stop_a_page() {
    let mut activities = history(5);
    activities.push(json!({"activityId": "x"}));
    activities.push(json!("not an object"));
    activities.push(activity(10_000, "2026-01-31"));
    let w = world(activities);
    let msg = w.queue(SyncSpec::incremental()).await;
    assert_eq!(w.engine.handle(msg, 1).await.unwrap(), Outcome::Succeeded);
    let job = w.job(msg).await;
    assert_eq!(job.progress.activities_rejected, 2);
    assert_eq!(job.progress.runs_inserted, 5);
}

#[tokio::test]
async fn a_job_whose_lease_is_held_is_left_for_later() {
    let w = world(history(5));
    let msg = w.queue(SyncSpec::incremental()).await;
    let now: OffsetDateTime = w.clock.now();
    w.jobs
        .claim(
            msg.job_id,
            Lease {
                owner: "other".into(),
                until: now + time::Duration::minutes(5),
            },
            now,
        )
        .await
        .unwrap();
    assert!(matches!(
        w.engine.handle(msg, 2).await,
        Err(RetryLater::Busy)
    ));
    w.advance(time::Duration::minutes(6));
    assert_eq!(w.engine.handle(msg, 3).await.unwrap(), Outcome::Succeeded);
}

#[tokio::test]
async fn missing_source_fails_with_link_advice() {
    let w = world(history(5));
    w.store.sources.lock().unwrap().clear();
    let msg = w.queue(SyncSpec::incremental()).await;
    assert_eq!(w.engine.handle(msg, 1).await.unwrap(), Outcome::Failed);
    assert_eq!(w.job(msg).await.error.unwrap().code, "not_linked");
}

#[tokio::test]
async fn a_full_sync_marks_runs_gone_upstream_as_deleted_and_they_come_back() {
    let w = world(history(120));
    let first = w.queue(SyncSpec::incremental()).await;
    w.engine.handle(first, 1).await.unwrap();
    // Two runs disappear from SmashRun.
    w.smashrun.activities.lock().unwrap().drain(10..12);
    let full = w
        .queue(SyncSpec {
            kind: SyncKind::Full,
            since: None,
            until: None,
        })
        .await;
    assert_eq!(w.engine.handle(full, 1).await.unwrap(), Outcome::Succeeded);
    let job = w.job(full).await;
    assert_eq!(job.progress.runs_deleted, 2);
    assert_eq!(job.progress.runs_unchanged, 118);
    assert_eq!(w.store.deleted.lock().unwrap().len(), 2);
    // An incremental sync never deletes.
    let incremental = w.queue(SyncSpec::incremental()).await;
    w.engine.handle(incremental, 1).await.unwrap();
    assert_eq!(w.job(incremental).await.progress.runs_deleted, 0);
}

#[tokio::test]
async fn a_full_sync_with_unreadable_activities_marks_nothing_deleted() {
    let w = world(history(50));
    let first = w.queue(SyncSpec::incremental()).await;
    w.engine.handle(first, 1).await.unwrap();
    {
        let mut activities = w.smashrun.activities.lock().unwrap();
        activities.drain(0..2);
        activities[0]["distance"] = json!("unreadable");
    }
    let full = w
        .queue(SyncSpec {
            kind: SyncKind::Full,
            since: None,
            until: None,
        })
        .await;
    assert_eq!(w.engine.handle(full, 1).await.unwrap(), Outcome::Succeeded);
    let job = w.job(full).await;
    assert_eq!(job.progress.activities_rejected, 1);
    assert_eq!(job.progress.runs_deleted, 0);
    assert!(w.store.deleted.lock().unwrap().is_empty());
}
