//! Submitting and reading jobs: what `POST /sync`, `GET /sync/{id}` and the nightly schedule share.

use std::sync::Arc;

use stk_protocol::{JobError, JobStatus};
use tracing::{info, warn};

use crate::clock::Clock;
use crate::error::{JobStoreError, QueueError};
use crate::ids::{JobId, UserId};
use crate::job::{Job, JobMessage, SyncSpec};
use crate::ports::{Created, JobQueue, JobRepository};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submitted {
    /// A new job was recorded and queued.
    New(Job),
    /// The user already has an active job (or reused an idempotency key): this is it.
    Existing(Job),
}

/// What a scheduled run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ScheduleCounts {
    pub queued: u64,
    /// Users whose previous sync was still queued or running.
    pub skipped_active: u64,
    pub failed: u64,
    /// SendMessageBatch requests made.
    pub queue_requests: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error(transparent)]
    Jobs(#[from] JobStoreError),
    #[error("the job could not be queued")]
    Queue(#[source] QueueError),
}

#[derive(Debug, Clone)]
pub struct JobService {
    jobs: Arc<dyn JobRepository>,
    queue: Arc<dyn JobQueue>,
    clock: Arc<dyn Clock>,
}

impl JobService {
    pub fn new(
        jobs: Arc<dyn JobRepository>,
        queue: Arc<dyn JobQueue>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self { jobs, queue, clock }
    }

    pub async fn submit(
        &self,
        user: UserId,
        spec: SyncSpec,
        idempotency_key: Option<&str>,
    ) -> Result<Submitted, SubmitError> {
        let job = Job::new(user, spec, self.clock.now());
        let job = match self.jobs.create(&job, idempotency_key).await? {
            Created::Existing(existing) => {
                info!(job_id = %existing.id, "active or repeated job returned instead of a new one");
                return Ok(Submitted::Existing(existing));
            }
            Created::New(job) => job,
        };
        let message = JobMessage {
            job_id: job.id,
            user_id: user,
        };
        if let Err(e) = self.queue.enqueue(&message).await {
            // A recorded job that is never delivered would hold the user's active slot forever.
            self.fail_unqueued(job).await;
            return Err(SubmitError::Queue(e));
        }
        info!(job_id = %job.id, kind = ?job.spec.kind, "job queued");
        Ok(Submitted::New(job))
    }

    /// Queues one job per user, skipping users with an active job: the nightly schedule.
    /// Jobs are created `concurrency` at a time and their messages sent ten to a request.
    pub async fn submit_many(
        &self,
        users: &[UserId],
        spec: SyncSpec,
        concurrency: usize,
    ) -> ScheduleCounts {
        use futures_util::StreamExt as _;
        let now = self.clock.now();
        let created: Vec<_> = futures_util::stream::iter(users.iter().copied())
            .map(|user| async move { self.jobs.create(&Job::new(user, spec, now), None).await })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
        let mut counts = ScheduleCounts::default();
        let mut fresh = Vec::new();
        for outcome in created {
            match outcome {
                Ok(Created::New(job)) => fresh.push(job),
                Ok(Created::Existing(_)) => counts.skipped_active += 1,
                Err(e) => {
                    warn!(error = %crate::error::chain(&e), "could not create a scheduled job");
                    counts.failed += 1;
                }
            }
        }
        for chunk in fresh.chunks(10) {
            let messages: Vec<JobMessage> = chunk
                .iter()
                .map(|job| JobMessage {
                    job_id: job.id,
                    user_id: job.user_id,
                })
                .collect();
            counts.queue_requests += 1;
            let refused = match self.queue.enqueue_batch(&messages).await {
                Ok(refused) => refused,
                Err(e) => {
                    warn!(error = %crate::error::chain(&e), "a batch of scheduled jobs could not be queued");
                    messages.iter().map(|m| m.job_id).collect()
                }
            };
            for job in chunk {
                if refused.contains(&job.id) {
                    counts.failed += 1;
                    self.fail_unqueued(job.clone()).await;
                } else {
                    counts.queued += 1;
                }
            }
        }
        counts
    }

    async fn fail_unqueued(&self, job: Job) {
        let mut failed = job;
        failed.status = JobStatus::Failed;
        failed.finished_at = Some(self.clock.now());
        failed.error = Some(JobError {
            code: "queue_unavailable".into(),
            message: "the job could not be queued: run `stk sync` again".into(),
        });
        if let Err(finish) = self.jobs.finish(&failed).await {
            warn!(error = %finish, job_id = %failed.id, "could not mark an unqueued job failed");
        }
    }

    /// A job of this user's; another user's job is reported as missing, not forbidden.
    pub async fn get(&self, user: UserId, id: JobId) -> Result<Option<Job>, JobStoreError> {
        Ok(self.jobs.get(id).await?.filter(|job| job.user_id == user))
    }

    pub async fn list(&self, user: UserId, limit: u32) -> Result<Vec<Job>, JobStoreError> {
        self.jobs.list_for_user(user, limit).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::fakes::{FixedClock, MemJobs, MemQueue};
    use time::macros::datetime;

    fn service() -> (JobService, Arc<MemJobs>, Arc<MemQueue>) {
        let jobs = Arc::new(MemJobs::default());
        let queue = Arc::new(MemQueue::default());
        let clock = Arc::new(FixedClock(Mutex::new(datetime!(2026-01-01 00:00 UTC))));
        (
            JobService::new(jobs.clone(), queue.clone(), clock),
            jobs,
            queue,
        )
    }

    fn user(n: u128) -> UserId {
        UserId::new(uuid::Uuid::from_u128(n))
    }

    #[tokio::test]
    async fn second_submit_returns_the_active_job() {
        let (svc, _, queue) = service();
        let Submitted::New(first) = svc
            .submit(user(1), SyncSpec::incremental(), None)
            .await
            .unwrap()
        else {
            panic!("first submit must create a job");
        };
        let second = svc
            .submit(user(1), SyncSpec::incremental(), None)
            .await
            .unwrap();
        assert_eq!(second, Submitted::Existing(first.clone()));
        assert_eq!(queue.sent.lock().unwrap().len(), 1);
        // Another user is not affected.
        assert!(matches!(
            svc.submit(user(2), SyncSpec::incremental(), None)
                .await
                .unwrap(),
            Submitted::New(_)
        ));
        assert_eq!(svc.get(user(2), first.id).await.unwrap(), None);
        assert_eq!(svc.get(user(1), first.id).await.unwrap(), Some(first));
    }

    #[tokio::test]
    async fn submit_many_skips_active_users_and_batches_by_ten() {
        let (svc, _, queue) = service();
        assert!(matches!(
            svc.submit(user(3), SyncSpec::incremental(), None)
                .await
                .unwrap(),
            Submitted::New(_)
        ));
        let users: Vec<UserId> = (1..=25).map(user).collect();
        let counts = svc.submit_many(&users, SyncSpec::incremental(), 4).await;
        assert_eq!(counts.queued, 24);
        assert_eq!(counts.skipped_active, 1);
        assert_eq!(counts.failed, 0);
        assert_eq!(counts.queue_requests, 3);
        assert_eq!(*queue.batches.lock().unwrap(), vec![10, 10, 4]);
        assert_eq!(queue.sent.lock().unwrap().len(), 25);
    }

    #[tokio::test]
    async fn failed_enqueue_frees_the_slot_and_says_so() {
        let (svc, jobs, queue) = service();
        *queue.fail.lock().unwrap() = true;
        assert!(matches!(
            svc.submit(user(1), SyncSpec::incremental(), None).await,
            Err(SubmitError::Queue(_))
        ));
        let stored: Vec<Job> = jobs.jobs.lock().unwrap().values().cloned().collect();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].status, JobStatus::Failed);
        *queue.fail.lock().unwrap() = false;
        assert!(matches!(
            svc.submit(user(1), SyncSpec::incremental(), None)
                .await
                .unwrap(),
            Submitted::New(_)
        ));
    }
}
