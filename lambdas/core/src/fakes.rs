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
        if let Some(id) = active.get(&job.user_id)
            && !jobs[id].abandoned(job.created_at)
        {
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
            return Ok(Claim::Busy {
                until: job.claimable_at(),
            });
        }
        let after_crash = job.status == JobStatus::Running;
        job.status = JobStatus::Running;
        job.attempts += 1;
        job.lease = Some(lease);
        job.waiting = None;
        job.updated_at = now;
        Ok(Claim::Claimed {
            job: job.clone(),
            after_crash,
        })
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
            || stored.status == JobStatus::Queued
            || job.lease.is_none()
            || stored.lease.as_ref().map(|l| &l.owner) != job.lease.as_ref().map(|l| &l.owner)
        {
            return Err(JobStoreError::Conflict);
        }
        *stored = Job {
            created_at: stored.created_at,
            ..job.clone()
        };
        Ok(())
    }

    async fn finish(&self, job: &Job) -> Result<(), JobStoreError> {
        {
            let mut jobs = self.jobs.lock().unwrap();
            let stored = jobs.get_mut(&job.id).ok_or(JobStoreError::Conflict)?;
            if stored.status.is_finished()
                || stored.lease.as_ref().map(|l| &l.owner) != job.lease.as_ref().map(|l| &l.owner)
            {
                return Err(JobStoreError::Conflict);
            }
            *stored = Job {
                lease: None,
                waiting: None,
                ..job.clone()
            };
        }
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
    /// Every visibility change asked for: receipt and how long the message is hidden.
    pub visibility: Mutex<Vec<(String, std::time::Duration)>>,
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

    async fn set_visibility(
        &self,
        receipt: &str,
        hidden: std::time::Duration,
    ) -> Result<(), QueueError> {
        if *self.fail.lock().unwrap() {
            return Err(QueueError::Unavailable("injected".into()));
        }
        self.visibility
            .lock()
            .unwrap()
            .push((receipt.to_owned(), hidden));
        Ok(())
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
    /// Errors returned by the next listing calls, in order.
    pub list_failures: Mutex<VecDeque<SmashrunError>>,
    /// Ids the next listings leave out (a listing SmashRun got wrong), one set per call.
    pub list_omits: Mutex<VecDeque<Vec<i64>>>,
    pub listings: Mutex<u32>,
    pub fetched_by_id: Mutex<Vec<i64>>,
    /// Runs paging leaves out (shifted away by a deletion upstream), though listed.
    pub hidden_from_paging: Mutex<Vec<i64>>,
    /// Searches of this page and later never answer: the worker is killed while it waits.
    pub hang_from_page: Mutex<Option<u32>>,
    /// Each search takes this long on this clock.
    pub latency: Mutex<Option<(Arc<FixedClock>, time::Duration)>>,
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
        if let Some((clock, by)) = self.latency.lock().unwrap().as_ref() {
            *clock.0.lock().unwrap() += *by;
        }
        let hang = self
            .hang_from_page
            .lock()
            .unwrap()
            .is_some_and(|from| page >= from);
        if hang {
            std::future::pending::<()>().await;
        }
        if let Some(e) = self.search_failures.lock().unwrap().pop_front() {
            return Err(e);
        }
        self.check(token)?;
        let all = self.activities.lock().unwrap();
        let hidden = self.hidden_from_paging.lock().unwrap();
        Ok(all
            .iter()
            .filter(|a| {
                !a["activityId"]
                    .as_i64()
                    .is_some_and(|id| hidden.contains(&id))
            })
            .skip((page * count) as usize)
            .take(count as usize)
            .cloned()
            .collect())
    }

    async fn list_ids(&self, token: &SecretString) -> Result<Vec<i64>, SmashrunError> {
        *self.listings.lock().unwrap() += 1;
        if let Some(e) = self.list_failures.lock().unwrap().pop_front() {
            return Err(e);
        }
        self.check(token)?;
        let omit = self
            .list_omits
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_default();
        Ok(self
            .activities
            .lock()
            .unwrap()
            .iter()
            .filter_map(|a| a["activityId"].as_i64())
            .filter(|id| !omit.contains(id))
            .collect())
    }

    async fn activity(
        &self,
        token: &SecretString,
        id: i64,
    ) -> Result<Option<Value>, SmashrunError> {
        self.check(token)?;
        self.fetched_by_id.lock().unwrap().push(id);
        Ok(self
            .activities
            .lock()
            .unwrap()
            .iter()
            .find(|a| a["activityId"].as_i64() == Some(id))
            .cloned())
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

/// A stored run: its raw JSON, the jobs that inserted and last changed it, and whether it is
/// marked deleted.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRun {
    pub raw: Value,
    pub inserted_by: JobId,
    pub changed_by: JobId,
    pub deleted: bool,
}

#[derive(Debug, Default)]
pub struct MemStore {
    pub runs: Mutex<HashMap<(UserId, i64), StoredRun>>,
    pub sources: Mutex<HashMap<UserId, SmashrunSource>>,
    pub needs_relink: Mutex<Vec<UserId>>,
    pub upserts: Mutex<u32>,
    /// Rows written (inserted or changed): an upsert that changes nothing writes nothing.
    pub writes: Mutex<u64>,
    pub fail_upserts: Mutex<u32>,
    /// Fail every upsert from this (1-based) call on.
    pub fail_from_call: Mutex<Option<u32>>,
    /// Each upsert takes this long (a store slower than SmashRun).
    pub upsert_delay: Mutex<Option<std::time::Duration>>,
    /// Runs per upsert call, in order.
    pub batches: Mutex<Vec<usize>>,
}

impl MemStore {
    pub fn deleted(&self, user: UserId) -> Vec<i64> {
        let mut ids: Vec<i64> = self
            .runs
            .lock()
            .unwrap()
            .iter()
            .filter(|(k, r)| k.0 == user && r.deleted)
            .map(|(k, _)| k.1)
            .collect();
        ids.sort_unstable();
        ids
    }
}

#[async_trait]
impl RunStore for MemStore {
    async fn upsert_runs(
        &self,
        user: UserId,
        runs: &[Run],
        job: JobId,
        checkpoint: &crate::job::SourceCheckpoint,
    ) -> Result<UpsertCounts, StoreError> {
        let call = {
            let mut upserts = self.upserts.lock().unwrap();
            *upserts += 1;
            *upserts
        };
        self.batches.lock().unwrap().push(runs.len());
        let delay = *self.upsert_delay.lock().unwrap();
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
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
        let mut writes = self.writes.lock().unwrap();
        for run in runs {
            let key = (user, run.source_activity_id);
            match stored.get_mut(&key) {
                None => {
                    stored.insert(
                        key,
                        StoredRun {
                            raw: run.raw.clone(),
                            inserted_by: job,
                            changed_by: job,
                            deleted: false,
                        },
                    );
                    *writes += 1;
                    counts.inserted += 1;
                }
                Some(row) => {
                    if row.raw != run.raw || row.deleted {
                        row.raw = run.raw.clone();
                        row.deleted = false;
                        row.changed_by = job;
                        *writes += 1;
                    }
                    if row.inserted_by == job {
                        counts.inserted += 1;
                    } else if row.changed_by == job {
                        counts.updated += 1;
                    } else {
                        counts.unchanged += 1;
                    }
                }
            }
        }
        if let Some(source) = self.sources.lock().unwrap().get_mut(&user) {
            source.checkpoint = Some(checkpoint.clone());
        }
        Ok(counts)
    }

    async fn reconcile(
        &self,
        user: UserId,
        listed: &[i64],
        guard: Option<DeletionGuard>,
        max_absent: u32,
        _job: JobId,
    ) -> Result<Reconciled, StoreError> {
        let listed: std::collections::HashSet<i64> = listed.iter().copied().collect();
        let mut stored = self.runs.lock().unwrap();
        let live: Vec<i64> = stored
            .iter()
            .filter(|(k, r)| k.0 == user && !r.deleted)
            .map(|(k, _)| k.1)
            .collect();
        let unlisted: Vec<i64> = live
            .iter()
            .copied()
            .filter(|id| !listed.contains(id))
            .collect();
        let mut found = Reconciled {
            unlisted: unlisted.len() as u64,
            stored: live.len() as u64,
            ..Reconciled::default()
        };
        if guard.is_none_or(|g| g.allows(found.unlisted, found.stored)) {
            for id in &unlisted {
                if let Some(row) = stored.get_mut(&(user, *id)) {
                    row.deleted = true;
                }
            }
            found.marked = found.unlisted;
        }
        let mut absent: Vec<i64> = listed
            .iter()
            .copied()
            .filter(|id| !stored.contains_key(&(user, *id)))
            .collect();
        absent.sort_unstable();
        absent.truncate(max_absent as usize);
        found.absent = absent;
        Ok(found)
    }

    async fn job_counts(&self, user: UserId, job: JobId) -> Result<(u64, u64), StoreError> {
        let stored = self.runs.lock().unwrap();
        let mine = stored.iter().filter(|(k, _)| k.0 == user);
        let (mut inserted, mut updated) = (0, 0);
        for (_, row) in mine {
            if row.inserted_by == job {
                inserted += 1;
            } else if row.changed_by == job {
                updated += 1;
            }
        }
        Ok((inserted, updated))
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
        if let Some(s) = self.sources.lock().unwrap().get_mut(&user) {
            s.checkpoint = None;
            if let Some(c) = cursor {
                s.sync_cursor = Some(c);
            }
        }
        Ok(())
    }

    async fn link_smashrun(&self, _: &SmashrunUser, _: &TokenSet) -> Result<UserId, StoreError> {
        Err(StoreError::Malformed("not in this fake".into()))
    }
}

#[cfg(test)]
mod contract_tests {
    use super::MemJobs;

    #[tokio::test]
    async fn the_in_memory_job_repository_keeps_the_contract() {
        crate::contract::job_repository(&MemJobs::default(), time::OffsetDateTime::now_utc()).await;
    }
}
