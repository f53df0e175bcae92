//! Contract tests of the ports: one suite per port, run against the in-memory twin (the core's
//! unit tests) and against the real adapter (`dev/local/tests`), so the two cannot drift.
//! Each check panics with what broke.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use stk_protocol::{JobStatus, WaitReason};
use time::OffsetDateTime;

use crate::error::JobStoreError;
use crate::ids::{JobId, UserId};
use crate::job::{Job, Lease, SyncSpec};
use crate::ports::{Claim, Created, JobRepository};

fn lease(owner: &str, until: OffsetDateTime) -> Lease {
    Lease {
        owner: owner.into(),
        until,
    }
}

fn claimed(claim: Claim) -> (Job, bool) {
    match claim {
        Claim::Claimed { job, after_crash } => (job, after_crash),
        other => panic!("expected the job to be claimed, got {other:?}"),
    }
}

/// The job repository's contract. `now` must be close to the wall clock: real stores expire
/// records on it.
pub async fn job_repository(repo: &dyn JobRepository, now: OffsetDateTime) {
    // Stores keep instants to the millisecond.
    let now = now
        .replace_nanosecond(now.nanosecond() / 1_000_000 * 1_000_000)
        .unwrap();
    let minute = time::Duration::minutes(1);
    let user = UserId::new(uuid::Uuid::new_v4());

    // One active job per user; an idempotency key names the job it made.
    let job = Job::new(user, SyncSpec::incremental(), now);
    assert_eq!(
        repo.create(&job, Some("k1")).await.unwrap(),
        Created::New(job.clone())
    );
    let other = Job::new(user, SyncSpec::incremental(), now);
    match repo.create(&other, None).await.unwrap() {
        Created::Active(active) => assert_eq!(active.id, job.id),
        wrong => panic!("a second job must find the active one: {wrong:?}"),
    }
    match repo.create(&other, Some("k1")).await.unwrap() {
        Created::Repeated(repeated) => assert_eq!(repeated.id, job.id),
        wrong => panic!("a used key must find its job: {wrong:?}"),
    }
    assert_eq!(repo.get(other.id).await.unwrap(), None);
    assert_eq!(
        repo.claim(JobId::random(), lease("a", now + minute), now)
            .await
            .unwrap(),
        Claim::Missing
    );

    // A queued job is claimed, not after a crash; a held one is busy until its lease ends.
    let (mut held, after_crash) = claimed(
        repo.claim(job.id, lease("a", now + minute), now)
            .await
            .unwrap(),
    );
    assert!(!after_crash);
    assert_eq!((held.status, held.attempts), (JobStatus::Running, 1));
    assert_eq!(
        repo.claim(job.id, lease("b", now + minute), now)
            .await
            .unwrap(),
        Claim::Busy {
            until: Some(now + minute)
        }
    );

    // Only the holder saves; what it saves is read back.
    held.checkpoint.next_page = 3;
    held.progress.pages = 3;
    held.failures = 2;
    let mut stranger = held.clone();
    stranger.lease = Some(lease("b", now + minute));
    assert!(matches!(
        repo.save_progress(&stranger).await,
        Err(JobStoreError::Conflict)
    ));
    repo.save_progress(&held).await.unwrap();
    let read = repo.get(job.id).await.unwrap().unwrap();
    assert_eq!(
        (
            read.checkpoint.next_page,
            read.progress.pages,
            read.failures
        ),
        (3, 3, 2)
    );

    // A waiting job is busy until its wait ends, then claimed, not after a crash.
    let until = now + 2 * minute;
    held.status = JobStatus::Waiting;
    held.waiting = Some((until, WaitReason::RateLimit));
    held.lease = Some(lease("a", until));
    repo.save_progress(&held).await.unwrap();
    let read = repo.get(job.id).await.unwrap().unwrap();
    assert_eq!(read.status, JobStatus::Waiting);
    assert_eq!(read.waiting, Some((until, WaitReason::RateLimit)));
    assert_eq!(
        read.to_protocol().waiting.map(|w| w.reason),
        Some(WaitReason::RateLimit)
    );
    assert_eq!(
        repo.claim(job.id, lease("b", now + 3 * minute), now + minute)
            .await
            .unwrap(),
        Claim::Busy { until: Some(until) }
    );
    let (mut taken, after_crash) = claimed(
        repo.claim(job.id, lease("b", now + 3 * minute), until)
            .await
            .unwrap(),
    );
    assert!(!after_crash, "a job that waited did not crash");
    assert_eq!(taken.status, JobStatus::Running);
    assert_eq!(taken.attempts, 2);
    // The first holder lost it.
    held.status = JobStatus::Running;
    assert!(matches!(
        repo.save_progress(&held).await,
        Err(JobStoreError::Conflict)
    ));

    // Running under a lapsed lease: its worker stopped without a word.
    let (_, after_crash) = claimed(
        repo.claim(job.id, lease("c", now + 5 * minute), now + 4 * minute)
            .await
            .unwrap(),
    );
    assert!(after_crash);

    // Only the holder finishes; a finished job is reported as such and frees the slot.
    taken.status = JobStatus::Succeeded;
    taken.finished_at = Some(now + 4 * minute);
    assert!(matches!(
        repo.finish(&taken).await,
        Err(JobStoreError::Conflict)
    ));
    taken.lease = Some(lease("c", now + 5 * minute));
    repo.finish(&taken).await.unwrap();
    match repo
        .claim(job.id, lease("d", now + 6 * minute), now + 5 * minute)
        .await
        .unwrap()
    {
        Claim::Finished(finished) => assert_eq!(finished.status, JobStatus::Succeeded),
        wrong => panic!("a finished job must be reported finished: {wrong:?}"),
    }
    assert!(matches!(
        repo.finish(&taken).await,
        Err(JobStoreError::Conflict)
    ));
    let next = Job::new(user, SyncSpec::incremental(), now + 5 * minute);
    assert_eq!(
        repo.create(&next, None).await.unwrap(),
        Created::New(next.clone())
    );
    let listed = repo.list_for_user(user, 10).await.unwrap();
    assert_eq!(
        listed.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![next.id, job.id],
        "newest first"
    );

    // A job silent for over a day no longer holds the slot.
    let quiet_user = UserId::new(uuid::Uuid::new_v4());
    let old = Job::new(
        quiet_user,
        SyncSpec::incremental(),
        now - time::Duration::hours(25),
    );
    assert_eq!(
        repo.create(&old, None).await.unwrap(),
        Created::New(old.clone())
    );
    let fresh = Job::new(quiet_user, SyncSpec::incremental(), now);
    assert_eq!(
        repo.create(&fresh, None).await.unwrap(),
        Created::New(fresh.clone()),
        "an abandoned job must not block a new one"
    );
}
