//! In-memory twins of the ports, for the core's unit tests only.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use stk_protocol::JobStatus;
use time::OffsetDateTime;

use crate::activity::Run;
use crate::clock::Clock;
use crate::error::{JobStoreError, QueueError, SmashrunError, StoreError};
use crate::ids::{JobId, UserId};
use crate::job::{Job, JobMessage, Lease, Outgoing, QueueMessage};
use crate::ports::*;
use crate::tokens::{TokenGrant, TokenSet};

#[derive(Debug)]
pub struct FixedClock(pub Mutex<OffsetDateTime>);

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
}

#[derive(Debug, Default)]
pub struct MemJobs {
    pub jobs: Mutex<HashMap<JobId, Job>>,
    pub active: Mutex<HashMap<UserId, JobId>>,
    pub idempotency: Mutex<HashMap<(UserId, String), JobId>>,
    /// Fail the next N `save_progress` calls as unavailable.
    pub fail_saves: Mutex<u32>,
}

#[async_trait]
impl JobRepository for MemJobs {
    async fn create(&self, job: &Job, key: Option<&str>) -> Result<Created, JobStoreError> {
        let mut jobs = self.jobs.lock().unwrap();
        if let Some(key) = key
            && let Some(id) = self
                .idempotency
                .lock()
                .unwrap()
                .get(&(job.user_id, key.to_owned()))
        {
            return Ok(Created::Repeated(jobs[id].clone()));
        }
        let mut active = self.active.lock().unwrap();
        if let Some(id) = active.get(&job.user_id) {
            return Ok(Created::Active(jobs[id].clone()));
        }
        active.insert(job.user_id, job.id);
        if let Some(key) = key {
            self.idempotency
                .lock()
                .unwrap()
                .insert((job.user_id, key.to_owned()), job.id);
        }
        jobs.insert(job.id, job.clone());
        Ok(Created::New(job.clone()))
    }

    async fn get(&self, id: JobId) -> Result<Option<Job>, JobStoreError> {
        Ok(self.jobs.lock().unwrap().get(&id).cloned())
    }

    async fn list_for_user(&self, user: UserId, limit: u32) -> Result<Vec<Job>, JobStoreError> {
        let mut jobs: Vec<Job> = self
            .jobs
            .lock()
            .unwrap()
            .values()
            .filter(|j| j.user_id == user)
            .cloned()
            .collect();
        jobs.sort_by_key(|j| std::cmp::Reverse(j.created_at));
        jobs.truncate(limit as usize);
        Ok(jobs)
    }

    async fn claim(
        &self,
        id: JobId,
        lease: Lease,
        now: OffsetDateTime,
    ) -> Result<Claim, JobStoreError> {
        let mut jobs = self.jobs.lock().unwrap();
        let Some(job) = jobs.get_mut(&id) else {
            return Ok(Claim::Missing);
        };
        if job.status.is_finished() {
            return Ok(Claim::Finished(job.clone()));
        }
        if !job.claimable(now) {
            return Ok(Claim::Busy);
        }
        job.status = JobStatus::Running;
        job.attempts += 1;
        job.lease = Some(lease);
        Ok(Claim::Claimed(job.clone()))
    }

    async fn save_progress(&self, job: &Job) -> Result<(), JobStoreError> {
        {
            let mut fail = self.fail_saves.lock().unwrap();
            if *fail > 0 {
                *fail -= 1;
                return Err(JobStoreError::Unavailable("injected".into()));
            }
        }
        let mut jobs = self.jobs.lock().unwrap();
        let stored = jobs.get_mut(&job.id).ok_or(JobStoreError::Conflict)?;
        if stored.status.is_finished()
            || stored.lease.as_ref().map(|l| &l.owner) != job.lease.as_ref().map(|l| &l.owner)
        {
            return Err(JobStoreError::Conflict);
        }
        *stored = job.clone();
        Ok(())
    }

    async fn finish(&self, job: &Job) -> Result<(), JobStoreError> {
        self.jobs.lock().unwrap().insert(job.id, job.clone());
        let mut active = self.active.lock().unwrap();
        if active.get(&job.user_id) == Some(&job.id) {
            active.remove(&job.user_id);
        }
        Ok(())
    }
}

#[derive(Debug, Default)]
pub struct MemQueue {
    pub sent: Mutex<Vec<JobMessage>>,
    pub batches: Mutex<Vec<usize>>,
    pub scheduled: Mutex<Vec<QueueMessage>>,
    pub delays: Mutex<Vec<std::time::Duration>>,
    pub fail: Mutex<bool>,
}

#[async_trait]
impl JobQueue for MemQueue {
    async fn enqueue(&self, message: &JobMessage) -> Result<(), QueueError> {
        if *self.fail.lock().unwrap() {
            return Err(QueueError::Unavailable("injected".into()));
        }
        self.sent.lock().unwrap().push(*message);
        Ok(())
    }

    async fn enqueue_batch(&self, messages: &[Outgoing]) -> Result<Vec<usize>, QueueError> {
        assert!(
            messages.len() <= 10,
            "SQS batches hold ten messages at most"
        );
        if *self.fail.lock().unwrap() {
            return Err(QueueError::Unavailable("injected".into()));
        }
        self.batches.lock().unwrap().push(messages.len());
        self.scheduled
            .lock()
            .unwrap()
            .extend(messages.iter().map(|m| m.message.clone()));
        self.delays
            .lock()
            .unwrap()
            .extend(messages.iter().map(|m| m.delay));
        Ok(Vec::new())
    }
}

/// A SmashRun account: activities newest first, plus scripted failures.
#[derive(Debug, Default)]
pub struct MemSmashrun {
    pub activities: Mutex<Vec<Value>>,
    pub valid_access: Mutex<Vec<String>>,
    pub valid_refresh: Mutex<Vec<String>>,
    /// Errors returned by the next search calls, in order.
    pub search_failures: Mutex<VecDeque<SmashrunError>>,
    pub searches: Mutex<Vec<(u32, Option<OffsetDateTime>)>>,
    pub refreshes: Mutex<u32>,
    pub issued: Mutex<u32>,
    /// Another worker refreshing the same user at once: on the next refresh, it stores a newer
    /// pair in this store first; SmashRun then refuses the rotated token (`false`) or, with a
    /// grace period, grants this refresh too (`true`).
    pub race: Mutex<Option<(Arc<MemStore>, UserId, bool)>>,
}

impl MemSmashrun {
    fn check(&self, token: &SecretString) -> Result<(), SmashrunError> {
        if self
            .valid_access
            .lock()
            .unwrap()
            .iter()
            .any(|t| t == token.expose_secret())
        {
            Ok(())
        } else {
            Err(SmashrunError::Unauthorized)
        }
    }
}

#[async_trait]
impl SmashrunApi for MemSmashrun {
    async fn search_page(
        &self,
        token: &SecretString,
        page: u32,
        count: u32,
        since: Option<OffsetDateTime>,
    ) -> Result<Vec<Value>, SmashrunError> {
        self.searches.lock().unwrap().push((page, since));
        if let Some(e) = self.search_failures.lock().unwrap().pop_front() {
            return Err(e);
        }
        self.check(token)?;
        let all = self.activities.lock().unwrap();
        Ok(all
            .iter()
            .skip((page * count) as usize)
            .take(count as usize)
            .cloned()
            .collect())
    }

    async fn run_count(&self, token: &SecretString) -> Result<Option<u64>, SmashrunError> {
        self.check(token)?;
        Ok(Some(self.activities.lock().unwrap().len() as u64))
    }

    async fn refresh(&self, refresh: &SecretString) -> Result<TokenGrant, SmashrunError> {
        *self.refreshes.lock().unwrap() += 1;
        let race = self.race.lock().unwrap().take();
        if let Some((store, user, grace)) = race {
            self.valid_access
                .lock()
                .unwrap()
                .push("access-winner".into());
            if let Some(source) = store.sources.lock().unwrap().get_mut(&user) {
                source.tokens.access_token = "access-winner".into();
                source.tokens.refresh_token = "refresh-winner".into();
                source.tokens_version += 1;
            }
            if !grace {
                return Err(SmashrunError::InvalidGrant("invalid_grant".into()));
            }
        }
        if !self
            .valid_refresh
            .lock()
            .unwrap()
            .iter()
            .any(|t| t == refresh.expose_secret())
        {
            return Err(SmashrunError::InvalidGrant("invalid_grant".into()));
        }
        let mut issued = self.issued.lock().unwrap();
        *issued += 1;
        let access = format!("access-{issued}");
        self.valid_access.lock().unwrap().push(access.clone());
        Ok(TokenGrant {
            access_token: access.into(),
            refresh_token: None,
            expires_in: std::time::Duration::from_secs(7_257_600),
        })
    }

    async fn authorize_url(&self, state: &str) -> Result<String, SmashrunError> {
        Ok(format!(
            "https://smashrun.test/oauth2/authenticate?state={state}"
        ))
    }

    async fn exchange_code(&self, _: &str) -> Result<TokenGrant, SmashrunError> {
        Err(SmashrunError::InvalidGrant("not in this fake".into()))
    }

    async fn user_info(&self, _: &SecretString) -> Result<SmashrunUser, SmashrunError> {
        Err(SmashrunError::Unauthorized)
    }
}

/// Raw JSON and the full sync that last saw a run.
pub type StoredRun = (Value, Option<JobId>);

#[derive(Debug, Default)]
pub struct MemStore {
    pub runs: Mutex<HashMap<(UserId, i64), StoredRun>>,
    pub deleted: Mutex<Vec<(UserId, i64)>>,
    pub sources: Mutex<HashMap<UserId, SmashrunSource>>,
    pub needs_relink: Mutex<Vec<UserId>>,
    pub upserts: Mutex<u32>,
    pub fail_upserts: Mutex<u32>,
    /// Fail every upsert from this (1-based) call on.
    pub fail_from_call: Mutex<Option<u32>>,
}

#[async_trait]
impl RunStore for MemStore {
    async fn upsert_runs(
        &self,
        user: UserId,
        runs: &[Run],
        full_sync: Option<JobId>,
    ) -> Result<UpsertCounts, StoreError> {
        let call = {
            let mut upserts = self.upserts.lock().unwrap();
            *upserts += 1;
            *upserts
        };
        if self
            .fail_from_call
            .lock()
            .unwrap()
            .is_some_and(|from| call >= from)
        {
            return Err(StoreError::Unavailable("injected".into()));
        }
        {
            let mut fail = self.fail_upserts.lock().unwrap();
            if *fail > 0 {
                *fail -= 1;
                return Err(StoreError::Unavailable("injected".into()));
            }
        }
        let mut stored = self.runs.lock().unwrap();
        let mut counts = UpsertCounts::default();
        let mut deleted = self.deleted.lock().unwrap();
        for run in runs {
            let key = (user, run.source_activity_id);
            let was_deleted = deleted.contains(&key);
            deleted.retain(|k| *k != key);
            let previous = stored.get(&key).cloned();
            let seen = full_sync.or(previous.as_ref().and_then(|p| p.1));
            stored.insert(key, (run.raw.clone(), seen));
            match previous {
                None => counts.inserted += 1,
                Some((old, _)) if old == run.raw && !was_deleted => counts.unchanged += 1,
                Some(_) => counts.updated += 1,
            }
        }
        Ok(counts)
    }

    async fn mark_unseen_deleted(&self, user: UserId, full_sync: JobId) -> Result<u64, StoreError> {
        let stored = self.runs.lock().unwrap();
        let mut deleted = self.deleted.lock().unwrap();
        let mut count = 0;
        for (key, (_, seen)) in stored.iter() {
            if key.0 == user && *seen != Some(full_sync) && !deleted.contains(key) {
                deleted.push(*key);
                count += 1;
            }
        }
        Ok(count)
    }
}

#[async_trait]
impl SourceStore for MemStore {
    async fn smashrun_source(&self, user: UserId) -> Result<Option<SmashrunSource>, StoreError> {
        Ok(self.sources.lock().unwrap().get(&user).cloned())
    }

    async fn save_tokens(
        &self,
        user: UserId,
        _: &str,
        tokens: &TokenSet,
        expected_version: i64,
    ) -> Result<Option<i64>, StoreError> {
        let mut sources = self.sources.lock().unwrap();
        match sources.get_mut(&user) {
            Some(s) if s.tokens_version == expected_version => {
                s.tokens = tokens.clone();
                s.tokens_version += 1;
                Ok(Some(s.tokens_version))
            }
            _ => Ok(None),
        }
    }

    async fn mark_needs_relink(&self, user: UserId, _: &str) -> Result<(), StoreError> {
        self.needs_relink.lock().unwrap().push(user);
        Ok(())
    }

    async fn record_sync(
        &self,
        user: UserId,
        _: &str,
        cursor: Option<OffsetDateTime>,
        _: OffsetDateTime,
    ) -> Result<(), StoreError> {
        if let (Some(s), Some(c)) = (self.sources.lock().unwrap().get_mut(&user), cursor) {
            s.sync_cursor = Some(c);
        }
        Ok(())
    }

    async fn link_smashrun(&self, _: &SmashrunUser, _: &TokenSet) -> Result<UserId, StoreError> {
        Err(StoreError::Malformed("not in this fake".into()))
    }
}
