//! Submitting and reading jobs: what `POST /sync`, `GET /sync/{id}` and the nightly schedule share.

use std::sync::Arc;

use stk_protocol::{JobError, JobErrorCode, JobStatus};
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
            Created::Active(existing) if existing.stalled(self.clock.now()) => {
                // Its message was lost or dead-lettered: queue it again, and it resumes from
                // its checkpoint. A duplicate of a live message is harmless (claims are leased).
                warn!(job_id = %existing.id, status = existing.status.as_str(), "the active job is stalled: queued again");
                let message = JobMessage {
                    job_id: existing.id,
                    user_id: user,
                };
                self.queue
                    .enqueue(&message)
                    .await
                    .map_err(SubmitError::Queue)?;
                return Ok(Submitted::Existing(existing));
            }
            Created::Active(existing) | Created::Repeated(existing) => {
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

    async fn fail_unqueued(&self, job: Job) {
        let mut failed = job;
        failed.status = JobStatus::Failed;
        failed.finished_at = Some(self.clock.now());
        failed.error = Some(JobError::new(
            JobErrorCode::QueueUnavailable,
            "the job could not be queued: run `stk sync` again",
        ));
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
    async fn a_stalled_job_is_queued_again_by_the_next_request_and_abandoned_after_a_day() {
        let jobs = Arc::new(MemJobs::default());
        let queue = Arc::new(MemQueue::default());
        let start = datetime!(2026-01-01 00:00 UTC);
        let clock = Arc::new(FixedClock(Mutex::new(start)));
        let svc = JobService::new(jobs.clone(), queue.clone(), clock.clone());
        let Submitted::New(first) = svc
            .submit(user(1), SyncSpec::incremental(), None)
            .await
            .unwrap()
        else {
            panic!("first submit must create a job");
        };
        // Within its quiet period, a second request just returns it.
        *clock.0.lock().unwrap() = start + time::Duration::minutes(5);
        svc.submit(user(1), SyncSpec::incremental(), None)
            .await
            .unwrap();
        assert_eq!(queue.sent.lock().unwrap().len(), 1);
        // Quiet for longer: its message must have been lost; it is queued again.
        *clock.0.lock().unwrap() = start + time::Duration::minutes(11);
        let again = svc
            .submit(user(1), SyncSpec::incremental(), None)
            .await
            .unwrap();
        assert_eq!(again, Submitted::Existing(first.clone()));
        assert_eq!(queue.sent.lock().unwrap().len(), 2);
        assert!(
            queue
                .sent
                .lock()
                .unwrap()
                .iter()
                .all(|m| m.job_id == first.id)
        );
        // After a day of silence it no longer holds the slot.
        *clock.0.lock().unwrap() = start + time::Duration::hours(25);
        assert!(matches!(
            svc.submit(user(1), SyncSpec::incremental(), None)
                .await
                .unwrap(),
            Submitted::New(_)
        ));
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
