#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use stk_protocol::{IsoDate, JobStatus, SyncKind};
use time::OffsetDateTime;
use time::macros::datetime;

use super::*;
use crate::UserId;
use crate::fakes::*;
use crate::job::{Job, SyncSpec};
use crate::ports::SmashrunSource;
use crate::tokens::TokenSet;
use stk_protocol::WaitReason;

struct World {
    engine: SyncEngine,
    jobs: Arc<MemJobs>,
    queue: Arc<MemQueue>,
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
            checkpoint: None,
        },
    );
    let clock = Arc::new(FixedClock(Mutex::new(now)));
    let settings = EngineSettings {
        retry_min_delay: Duration::from_millis(1),
        retry_max_delay: Duration::from_millis(2),
        ..EngineSettings::default()
    };
    let queue = Arc::new(MemQueue::default());
    let engine = SyncEngine::new(
        EnginePorts {
            jobs: jobs.clone(),
            smashrun: smashrun.clone(),
            runs: store.clone(),
            sources: store.clone(),
            queue: queue.clone(),
            clock: clock.clone(),
        },
        settings,
        "test".into(),
    );
    World {
        engine,
        jobs,
        queue,
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

    /// One delivery, as SQS would hand it over.
    async fn deliver(&self, message: JobMessage) -> Result<Outcome, RetryLater> {
        self.engine.handle(message, &delivery()).await
    }

    /// A delivery during which the worker is killed: the run is dropped mid-way, as `kill -9`
    /// would stop it, once it has been waiting on SmashRun for a moment.
    async fn crash(&self, message: JobMessage) {
        let delivery = delivery();
        let run = self.engine.handle(message, &delivery);
        let killed = tokio::time::timeout(Duration::from_millis(50), run).await;
        assert!(
            killed.is_err(),
            "the delivery must be killed mid-way: {killed:?}"
        );
    }

    /// Runs deliveries until the job ends, moving the clock on to when each wait is over.
    async fn until_done(&self, message: JobMessage) -> (Outcome, Vec<RetryLater>) {
        let mut waits = Vec::new();
        for _ in 0..100 {
            match self.deliver(message).await {
                Ok(outcome) => return (outcome, waits),
                Err(later) => {
                    let hidden = later.hidden_for(self.clock.now(), 1);
                    self.advance(time::Duration::try_from(hidden).unwrap());
                    waits.push(later);
                }
            }
        }
        panic!("the job never ended: {waits:?}");
    }

    fn stored(&self) -> usize {
        self.store.runs.lock().unwrap().len()
    }
}

fn delivery() -> Delivery {
    Delivery {
        receives: 1,
        receipt: Some("receipt".into()),
        deadline: None,
    }
}

fn full() -> SyncSpec {
    SyncSpec {
        kind: SyncKind::Full,
        since: None,
        until: None,
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
    assert_eq!(w.deliver(msg).await.unwrap(), Outcome::Succeeded);
    let job = w.job(msg).await;
    assert_eq!(job.status, JobStatus::Succeeded);
    assert_eq!(job.progress.pages, 3);
    assert_eq!(job.progress.activities_seen, 250);
    assert_eq!(job.progress.runs_inserted, 250);
    assert_eq!(job.progress.expected_total, Some(250));
    // The count, one request per page, the listing.
    assert_eq!(job.progress.smashrun_requests, 1 + 3 + 1);
    // The source, one upsert per page, the reconciliation, the counts, the cursor.
    assert_eq!(job.progress.store_requests, 1 + 3 + 1 + 1 + 1);
    assert_eq!(w.stored(), 250);
    let source = w.store.sources.lock().unwrap()[&w.user].clone();
    assert_eq!(source.sync_cursor, job.checkpoint.cursor_candidate);
    assert_eq!(
        source.checkpoint, None,
        "a finished sync leaves no checkpoint"
    );
    // The message was kept hidden for the lease and a margin while the job ran.
    let hidden = w.queue.visibility.lock().unwrap().clone();
    assert!(!hidden.is_empty());
    assert!(
        hidden
            .iter()
            .all(|(r, d)| r == "receipt" && *d == Duration::from_secs(150))
    );
}

#[tokio::test]
async fn a_store_slower_than_smashrun_gets_fewer_larger_upserts_in_page_order() {
    let w = world(history(1_000));
    *w.store.upsert_delay.lock().unwrap() = Some(Duration::from_millis(20));
    let msg = w.queue(full()).await;
    assert_eq!(w.deliver(msg).await.unwrap(), Outcome::Succeeded);
    let job = w.job(msg).await;
    // Page 0 alone, then the ten pages fetched while it was stored (the last one empty).
    assert_eq!(*w.store.batches.lock().unwrap(), vec![100, 900]);
    assert_eq!(
        (job.progress.pages, job.progress.runs_inserted),
        (11, 1_000)
    );
    assert_eq!(w.stored(), 1_000);
    let pages: Vec<u32> = w
        .smashrun
        .searches
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.0)
        .collect();
    assert_eq!(
        pages,
        (0..=10).collect::<Vec<_>>(),
        "each page fetched once, in order"
    );
}

#[tokio::test]
async fn second_incremental_sync_asks_from_cursor_minus_overlap_and_writes_nothing() {
    let w = world(history(120));
    let first = w.queue(SyncSpec::incremental()).await;
    w.deliver(first).await.unwrap();
    let cursor = w.job(first).await.checkpoint.cursor_candidate.unwrap();
    let writes = *w.store.writes.lock().unwrap();
    w.advance(time::Duration::hours(5));
    let second = w.queue(SyncSpec::incremental()).await;
    w.deliver(second).await.unwrap();
    let job = w.job(second).await;
    assert_eq!(
        job.checkpoint.from_utc,
        Some(cursor - time::Duration::days(1))
    );
    let last_search = *w.smashrun.searches.lock().unwrap().last().unwrap();
    assert_eq!(last_search.1, Some(cursor - time::Duration::days(1)));
    assert_eq!(job.progress.runs_inserted + job.progress.runs_updated, 0);
    assert_eq!(job.progress.runs_unchanged, 120);
    assert_eq!(
        *w.store.writes.lock().unwrap(),
        writes,
        "nothing changed, nothing written"
    );
}

#[tokio::test]
async fn duplicate_delivery_of_a_finished_job_changes_nothing() {
    let w = world(history(30));
    let msg = w.queue(SyncSpec::incremental()).await;
    w.deliver(msg).await.unwrap();
    let before = w.job(msg).await;
    let upserts = *w.store.upserts.lock().unwrap();
    assert_eq!(w.deliver(msg).await.unwrap(), Outcome::Skipped);
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
    assert_eq!(w.deliver(msg).await.unwrap(), Outcome::Succeeded);
    let job = w.job(msg).await;
    assert_eq!(job.progress.runs_inserted, 150);
    assert_eq!(job.failures, 0);
    // The count, page 0 three times, page 1, the listing.
    assert_eq!(job.progress.smashrun_requests, 1 + 3 + 1 + 1);
    // The source, page 0's upsert twice, page 1's, reconciliation, counts, cursor.
    assert_eq!(job.progress.store_requests, 1 + 2 + 1 + 1 + 1 + 1);
}

#[tokio::test]
async fn a_fault_past_the_retries_waits_a_backoff_and_resumes_from_the_last_page_that_landed() {
    let w = world(history(250));
    let msg = w.queue(SyncSpec::incremental()).await;
    // Page 0's upsert succeeds; page 1's fails on every retry of the first delivery.
    *w.store.fail_from_call.lock().unwrap() = Some(2);
    let now = w.clock.now();
    let result = w.deliver(msg).await;
    let Err(RetryLater::Waiting { until, reason }) = result else {
        panic!("a fault must make the job wait: {result:?}");
    };
    assert_eq!(
        (until, reason),
        (now + time::Duration::seconds(30), WaitReason::Retry)
    );
    let mid = w.job(msg).await;
    assert_eq!(mid.status, JobStatus::Waiting);
    assert_eq!(mid.waiting, Some((until, WaitReason::Retry)));
    assert_eq!(mid.failures, 1);
    assert_eq!(mid.checkpoint.next_page, 1);
    assert_eq!(mid.progress.runs_inserted, 100);
    // Before the backoff is over the message goes back hidden for the rest of it.
    let early = w.deliver(msg).await.unwrap_err();
    assert_eq!(early.hidden_for(now, 2), Duration::from_secs(31));

    *w.store.fail_from_call.lock().unwrap() = None;
    w.advance(time::Duration::seconds(30));
    assert_eq!(w.deliver(msg).await.unwrap(), Outcome::Succeeded);
    let done = w.job(msg).await;
    assert_eq!(done.attempts, 2);
    assert_eq!(done.progress.runs_inserted, 250);
    assert_eq!(done.progress.pages, 3);
    assert_eq!(w.stored(), 250);
    let pages: Vec<u32> = w
        .smashrun
        .searches
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.0)
        .collect();
    // Page 2 was fetched while page 1 was being stored, then again after the backoff.
    assert_eq!(
        pages,
        vec![0, 1, 2, 1, 2],
        "page 0 must not be fetched again"
    );
}

#[tokio::test]
async fn faults_on_every_delivery_fail_the_job_on_the_fifth_with_advice() {
    let w = world(history(10));
    let msg = w.queue(SyncSpec::incremental()).await;
    // Every attempt of every delivery: 1 + 4 retries, 5 deliveries.
    for _ in 0..25 {
        w.smashrun
            .search_failures
            .lock()
            .unwrap()
            .push_back(SmashrunError::Server { status: 502 });
    }
    let (outcome, waits) = w.until_done(msg).await;
    assert_eq!(outcome, Outcome::Failed);
    assert_eq!(waits.len(), 4);
    let job = w.job(msg).await;
    assert_eq!((job.status, job.failures), (JobStatus::Failed, 5));
    let error = job.error.unwrap();
    assert_eq!(error.code, "smashrun_unavailable");
    assert!(error.message.contains("stk sync"));
    // The backoff doubled: 30 s, 60 s, 120 s, 240 s.
    let backoffs: Vec<u64> = waits
        .iter()
        .map(|w| w.hidden_for(OffsetDateTime::UNIX_EPOCH, 1).as_secs())
        .collect();
    assert!(backoffs.iter().all(|&b| b > 0));
    // The slot is free again.
    assert!(w.jobs.active.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_killed_worker_s_job_is_taken_up_after_its_lease_and_counted_honestly() {
    let w = world(history(250));
    let msg = w.queue(SyncSpec::incremental()).await;
    *w.smashrun.hang_from_page.lock().unwrap() = Some(2);
    w.crash(msg).await;
    let dead = w.job(msg).await;
    assert_eq!(dead.status, JobStatus::Running);
    // The lease protects it for a while: a duplicate delivery is told when to come back.
    let busy = w.deliver(msg).await.unwrap_err();
    assert!(
        matches!(busy, RetryLater::NotYet { until: Some(_) }),
        "{busy:?}"
    );
    assert_eq!(busy.hidden_for(w.clock.now(), 2), Duration::from_secs(121));

    *w.smashrun.hang_from_page.lock().unwrap() = None;
    w.advance(time::Duration::seconds(121));
    assert_eq!(w.deliver(msg).await.unwrap(), Outcome::Succeeded);
    let job = w.job(msg).await;
    assert_eq!(job.failures, 1, "the crash counts as a failure");
    // The job table was written less often than pages landed, but the source's checkpoint
    // (stored with each page) let the next delivery resume after page 1.
    let pages: Vec<u32> = w
        .smashrun
        .searches
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.0)
        .collect();
    assert_eq!(pages, vec![0, 1, 2, 2]);
    assert_eq!(
        (
            job.progress.runs_inserted,
            job.progress.runs_updated,
            job.progress.runs_unchanged
        ),
        (250, 0, 0)
    );
    assert_eq!(job.progress.pages, 3);
}

#[tokio::test]
async fn pages_upserted_again_after_a_crash_are_not_counted_twice() {
    let w = world(history(250));
    let msg = w.queue(SyncSpec::incremental()).await;
    *w.smashrun.hang_from_page.lock().unwrap() = Some(2);
    w.crash(msg).await;
    // As if the checkpoint written with the pages were lost: the next delivery starts over
    // from the job table's, and upserts pages 0 and 1 again.
    w.store
        .sources
        .lock()
        .unwrap()
        .get_mut(&w.user)
        .unwrap()
        .checkpoint = None;
    *w.smashrun.hang_from_page.lock().unwrap() = None;
    w.advance(time::Duration::minutes(3));
    assert_eq!(w.deliver(msg).await.unwrap(), Outcome::Succeeded);
    let job = w.job(msg).await;
    assert_eq!(
        (
            job.progress.runs_inserted,
            job.progress.runs_updated,
            job.progress.runs_unchanged
        ),
        (250, 0, 0)
    );
}

#[tokio::test]
async fn a_worker_killed_on_every_delivery_fails_the_job() {
    let w = world(history(250));
    let msg = w.queue(SyncSpec::incremental()).await;
    *w.smashrun.hang_from_page.lock().unwrap() = Some(0);
    for _ in 0..5 {
        w.crash(msg).await;
        w.advance(time::Duration::minutes(3));
    }
    assert_eq!(w.deliver(msg).await.unwrap(), Outcome::Failed);
    let job = w.job(msg).await;
    assert_eq!(job.failures, 5);
    let error = job.error.unwrap();
    assert_eq!(error.known_code(), Some(JobErrorCode::WorkerStopped));
    assert!(error.message.contains("stk sync"), "{}", error.message);
}

#[tokio::test]
async fn a_rate_limit_waits_as_long_as_smashrun_says_and_is_never_a_failure() {
    let w = world(history(250));
    w.smashrun
        .search_failures
        .lock()
        .unwrap()
        .push_back(SmashrunError::RateLimited {
            retry_after: Some(Duration::from_secs(1_800)),
        });
    let msg = w.queue(SyncSpec::incremental()).await;
    let now = w.clock.now();
    let Err(RetryLater::Waiting { until, reason }) = w.deliver(msg).await else {
        panic!("a long Retry-After must make the job wait");
    };
    assert_eq!(
        (until, reason),
        (now + time::Duration::minutes(30), WaitReason::RateLimit)
    );
    let job = w.job(msg).await;
    assert_eq!((job.status, job.failures), (JobStatus::Waiting, 0));
    assert_eq!(
        job.to_protocol().waiting.unwrap().reason,
        WaitReason::RateLimit
    );
    let (outcome, _) = w.until_done(msg).await;
    assert_eq!(outcome, Outcome::Succeeded);
    assert_eq!(w.job(msg).await.failures, 0);
}

#[tokio::test]
async fn a_rate_limit_without_retry_after_waits_for_the_budget_hour() {
    let w = world(history(250));
    w.smashrun.search_failures.lock().unwrap().extend([
        SmashrunError::Server { status: 500 },
        SmashrunError::RateLimited { retry_after: None },
    ]);
    let msg = w.queue(SyncSpec::incremental()).await;
    let now = w.clock.now();
    let Err(RetryLater::Waiting { until, .. }) = w.deliver(msg).await else {
        panic!("a 429 without Retry-After must make the job wait");
    };
    // The budget hour began with the job's first request.
    assert_eq!(until, now + time::Duration::hours(1));
    // Not retried in place: a rolling hour does not pass in a second.
    assert_eq!(w.smashrun.searches.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn the_engine_paces_itself_against_its_hourly_budget() {
    let mut w = world(history(1_000));
    w.engine.settings.hourly_budget = 5;
    let msg = w.queue(full()).await;
    let (outcome, waits) = w.until_done(msg).await;
    assert_eq!(outcome, Outcome::Succeeded);
    assert!(
        waits.iter().all(|w| matches!(
            w,
            RetryLater::Waiting {
                reason: WaitReason::RateLimit,
                ..
            }
        )),
        "{waits:?}"
    );
    // 1 count + 10 pages + 1 listing = 12 requests, at most 5 an hour.
    assert!(waits.len() >= 2, "{waits:?}");
    let job = w.job(msg).await;
    assert_eq!((job.failures, job.progress.runs_inserted), (0, 1_000));
    // Ten full pages and the empty one after them, none fetched twice.
    let pages: Vec<u32> = w
        .smashrun
        .searches
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.0)
        .collect();
    assert_eq!(pages, (0..=10).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_near_deadline_hands_the_job_over_to_the_next_invocation() {
    let w = world(history(1_000));
    // Each page takes 20 s: with 90 s to go and 30 s kept in hand, four pages fit.
    *w.smashrun.latency.lock().unwrap() = Some((w.clock.clone(), time::Duration::seconds(20)));
    let msg = w.queue(SyncSpec::incremental()).await;
    let now = w.clock.now();
    let short = Delivery {
        deadline: Some(now + time::Duration::seconds(90)),
        ..delivery()
    };
    let Err(
        later @ RetryLater::Waiting {
            reason: WaitReason::Continue,
            ..
        },
    ) = w.engine.handle(msg, &short).await
    else {
        panic!("a near deadline must hand over");
    };
    assert_eq!(later.hidden_for(w.clock.now(), 1), Duration::from_secs(1));
    let job = w.job(msg).await;
    assert_eq!((job.status, job.failures), (JobStatus::Waiting, 0));
    assert_eq!(job.checkpoint.next_page, 4, "{:?}", job.checkpoint);
    *w.smashrun.latency.lock().unwrap() = None;
    assert_eq!(w.deliver(msg).await.unwrap(), Outcome::Succeeded);
    let done = w.job(msg).await;
    assert_eq!((done.failures, done.progress.runs_inserted), (0, 1_000));
}

#[tokio::test]
async fn a_deadline_already_past_is_no_guide() {
    let w = world(history(150));
    let msg = w.queue(SyncSpec::incremental()).await;
    let past = Delivery {
        deadline: Some(w.clock.now() - time::Duration::hours(1)),
        ..delivery()
    };
    assert_eq!(
        w.engine.handle(msg, &past).await.unwrap(),
        Outcome::Succeeded
    );
}

#[tokio::test]
async fn a_failed_sync_leaves_a_checkpoint_the_next_sync_continues_from() {
    let w = world(history(450));
    let first = w.queue(full()).await;
    // Page 2's upsert and every one after it fail: the job fails after its fifth fault.
    *w.store.fail_from_call.lock().unwrap() = Some(3);
    let (outcome, _) = w.until_done(first).await;
    assert_eq!(outcome, Outcome::Failed);
    assert_eq!(w.stored(), 200);
    *w.store.fail_from_call.lock().unwrap() = None;
    w.smashrun.searches.lock().unwrap().clear();
    let second = w.queue(full()).await;
    assert_eq!(w.deliver(second).await.unwrap(), Outcome::Succeeded);
    let pages: Vec<u32> = w
        .smashrun
        .searches
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.0)
        .collect();
    assert_eq!(
        pages,
        vec![2, 3, 4],
        "the second sync starts where the first stopped"
    );
    assert_eq!(w.stored(), 450);
    assert_eq!(w.job(second).await.progress.runs_inserted, 250);
}

#[tokio::test]
async fn expired_access_token_is_refreshed_once_and_stored() {
    let w = world(history(20));
    w.smashrun.valid_access.lock().unwrap().clear();
    let msg = w.queue(SyncSpec::incremental()).await;
    assert_eq!(w.deliver(msg).await.unwrap(), Outcome::Succeeded);
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
    w.deliver(msg).await.unwrap();
    assert_eq!(*w.smashrun.refreshes.lock().unwrap(), 1);
}

#[tokio::test]
async fn refused_refresh_fails_the_job_with_login_advice() {
    let w = world(history(5));
    w.smashrun.valid_access.lock().unwrap().clear();
    w.smashrun.valid_refresh.lock().unwrap().clear();
    let msg = w.queue(SyncSpec::incremental()).await;
    assert_eq!(w.deliver(msg).await.unwrap(), Outcome::Failed);
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
            w.deliver(msg).await.unwrap(),
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
    w.deliver(msg).await.unwrap();
    let job = w.job(msg).await;
    assert_eq!(
        job.progress.pages, 1,
        "page 0 already reaches before 2025-12-01"
    );
    // A range sync leaves the incremental cursor alone.
    assert_eq!(w.store.sources.lock().unwrap()[&w.user].sync_cursor, None);
    assert_eq!(job.progress.runs_inserted, 31);
    // The runs out of range that it did not store are not fetched one by one.
    assert!(w.smashrun.fetched_by_id.lock().unwrap().is_empty());
}

#[tokio::test]
async fn unreadable_and_duplicate_activities_do_not_stop_a_page() {
    let mut activities = history(5);
    activities.push(json!({"activityId": "x"}));
    activities.push(json!("not an object"));
    activities.push(activity(10_000, "2026-01-31"));
    let w = world(activities);
    let msg = w.queue(SyncSpec::incremental()).await;
    assert_eq!(w.deliver(msg).await.unwrap(), Outcome::Succeeded);
    let job = w.job(msg).await;
    assert_eq!(job.progress.activities_rejected, 2);
    assert_eq!(job.progress.runs_inserted, 5);
}

#[tokio::test]
async fn missing_source_fails_with_link_advice() {
    let w = world(history(5));
    w.store.sources.lock().unwrap().clear();
    let msg = w.queue(SyncSpec::incremental()).await;
    assert_eq!(w.deliver(msg).await.unwrap(), Outcome::Failed);
    assert_eq!(w.job(msg).await.error.unwrap().code, "not_linked");
}

#[tokio::test]
async fn every_sync_marks_runs_gone_upstream_as_deleted_and_they_come_back() {
    let w = world(history(120));
    let first = w.queue(SyncSpec::incremental()).await;
    w.deliver(first).await.unwrap();
    // Two runs disappear from SmashRun.
    let gone: Vec<Value> = w
        .smashrun
        .activities
        .lock()
        .unwrap()
        .drain(10..12)
        .collect();
    w.advance(time::Duration::hours(1));
    let incremental = w.queue(SyncSpec::incremental()).await;
    assert_eq!(w.deliver(incremental).await.unwrap(), Outcome::Succeeded);
    let job = w.job(incremental).await;
    assert_eq!(job.progress.runs_deleted, 2);
    assert_eq!(w.store.deleted(w.user), vec![9_989, 9_990]);
    // They come back upstream: a full sync restores them.
    w.smashrun.activities.lock().unwrap().extend(gone);
    let again = w.queue(full()).await;
    w.deliver(again).await.unwrap();
    let job = w.job(again).await;
    assert_eq!(
        (job.progress.runs_deleted, job.progress.runs_updated),
        (0, 2)
    );
    assert!(w.store.deleted(w.user).is_empty());
}

#[tokio::test]
async fn a_run_paging_never_showed_is_fetched_by_id_not_marked_deleted() {
    let w = world(history(250));
    let first = w.queue(full()).await;
    w.deliver(first).await.unwrap();
    // A new run, and one deleted upstream during the sync shifts the offset pages: paging
    // shows neither the new run nor (here) one old run, but the listing has both.
    w.smashrun
        .activities
        .lock()
        .unwrap()
        .insert(0, activity(20_000, "2026-02-01"));
    *w.smashrun.hidden_from_paging.lock().unwrap() = vec![20_000, 9_850];
    let second = w.queue(full()).await;
    assert_eq!(w.deliver(second).await.unwrap(), Outcome::Succeeded);
    let job = w.job(second).await;
    assert_eq!(job.progress.runs_deleted, 0);
    assert_eq!(job.progress.runs_fetched_by_id, 1);
    assert_eq!(*w.smashrun.fetched_by_id.lock().unwrap(), vec![20_000]);
    assert!(w.store.deleted(w.user).is_empty());
    assert_eq!(w.stored(), 251);
}

#[tokio::test]
async fn an_unusual_share_unlisted_is_listed_again_and_marked_only_if_both_agree() {
    let w = world(history(200));
    let first = w.queue(full()).await;
    w.deliver(first).await.unwrap();
    // One listing leaves out 60 runs SmashRun still has: the second listing disagrees.
    let omitted: Vec<i64> = (0..60).map(|i| 9_900 - i).collect();
    w.smashrun.list_omits.lock().unwrap().push_back(omitted);
    let second = w.queue(full()).await;
    w.deliver(second).await.unwrap();
    let job = w.job(second).await;
    assert_eq!(
        (job.progress.runs_deleted, job.progress.deletions_held_back),
        (0, 60)
    );
    assert!(w.store.deleted(w.user).is_empty());
    assert_eq!(*w.smashrun.listings.lock().unwrap(), 1 + 2);

    // Now 60 runs really are gone: both listings agree, and they are marked.
    w.smashrun.activities.lock().unwrap().drain(100..160);
    let third = w.queue(full()).await;
    w.deliver(third).await.unwrap();
    let job = w.job(third).await;
    assert_eq!(
        (job.progress.runs_deleted, job.progress.deletions_held_back),
        (60, 0)
    );
    assert_eq!(w.store.deleted(w.user).len(), 60);
}

#[tokio::test]
async fn a_rejected_activity_is_listed_so_it_is_neither_deleted_nor_fetched_again() {
    let w = world(history(50));
    let first = w.queue(full()).await;
    w.deliver(first).await.unwrap();
    {
        let mut activities = w.smashrun.activities.lock().unwrap();
        activities.drain(0..2);
        activities[0]["distance"] = json!("unreadable");
    }
    let second = w.queue(full()).await;
    assert_eq!(w.deliver(second).await.unwrap(), Outcome::Succeeded);
    let job = w.job(second).await;
    assert_eq!(job.progress.activities_rejected, 1);
    assert_eq!(job.progress.runs_deleted, 2);
    assert_eq!(w.store.deleted(w.user), vec![9_999, 10_000]);
    assert!(w.smashrun.fetched_by_id.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_dead_lettered_job_fails_with_a_reason_and_frees_the_slot() {
    let w = world(history(5));
    let msg = w.queue(SyncSpec::incremental()).await;
    assert_eq!(
        w.engine.fail_dead_lettered(msg).await.unwrap(),
        Outcome::Failed
    );
    let job = w.job(msg).await;
    assert_eq!(job.error.unwrap().code, "dead_lettered");
    assert!(w.jobs.active.lock().unwrap().is_empty());
    // A finished job is left alone.
    assert_eq!(
        w.engine.fail_dead_lettered(msg).await.unwrap(),
        Outcome::Skipped
    );
}
