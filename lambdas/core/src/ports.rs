//! The narrow interfaces through which the core reaches the outside world. Each has a real
//! implementation in `stk-adapters`. The ports the sync engine drives (jobs, queue, SmashRun,
//! runs, sources) also have in-memory twins in [`crate::fakes`] for the core's unit tests;
//! `UserDirectory`, `ApiKeyStore` and `RunnerViews`, which only the API uses, have none and are
//! tested against the real store (`dev/local/tests`).

use async_trait::async_trait;
use secrecy::SecretString;
use serde_json::Value;
use time::OffsetDateTime;

use crate::activity::Run;
use crate::auth::ApiKeyHash;
use crate::error::{JobStoreError, QueueError, SmashrunError, StoreError};
use crate::ids::{JobId, UserId};
use crate::job::{Job, JobMessage, Lease, Outgoing, SourceCheckpoint};
use crate::settings::SettingsChange;
use crate::tokens::{TokenGrant, TokenSet};

/// What `create` found: a new job, or the one the caller should use instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    New(Job),
    /// The job an earlier request with the same idempotency key made.
    Repeated(Job),
    /// The user's active (queued or running) job.
    Active(Job),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The job is ours until the lease runs out. `after_crash`: it was `running` under a lapsed
    /// lease, so the worker that held it stopped without a word.
    Claimed { job: Job, after_crash: bool },
    /// Already succeeded or failed: a duplicate delivery.
    Finished(Job),
    /// Another worker holds a live lease, or the job waits: not before `until`.
    Busy { until: Option<OffsetDateTime> },
    /// No such job (expired or never written).
    Missing,
}

#[async_trait]
pub trait JobRepository: Send + Sync + std::fmt::Debug {
    /// Writes a queued job unless the user already has an active one (or the idempotency key
    /// was used before), atomically.
    async fn create(
        &self,
        job: &Job,
        idempotency_key: Option<&str>,
    ) -> Result<Created, JobStoreError>;
    async fn get(&self, id: JobId) -> Result<Option<Job>, JobStoreError>;
    /// The user's most recent jobs, newest first.
    async fn list_for_user(&self, user: UserId, limit: u32) -> Result<Vec<Job>, JobStoreError>;
    /// Moves a claimable job to running under `lease`, counting an attempt. The job's
    /// `updated_at` becomes `now`.
    async fn claim(
        &self,
        id: JobId,
        lease: Lease,
        now: OffsetDateTime,
    ) -> Result<Claim, JobStoreError>;
    /// Saves status (`running` or `waiting`), lease, progress and checkpoint; fails with
    /// `Conflict` if the lease is no longer ours.
    async fn save_progress(&self, job: &Job) -> Result<(), JobStoreError>;
    /// Writes the final status and releases the user's active-job slot. Fails with `Conflict`
    /// unless the job is unfinished and still held by `job.lease`'s owner (or unclaimed, when
    /// `job.lease` is `None`).
    async fn finish(&self, job: &Job) -> Result<(), JobStoreError>;
}

#[async_trait]
pub trait JobQueue: Send + Sync + std::fmt::Debug {
    async fn enqueue(&self, message: &JobMessage) -> Result<(), QueueError>;
    /// Sends up to ten messages in one request; returns the indices of those refused.
    async fn enqueue_batch(&self, messages: &[Outgoing]) -> Result<Vec<usize>, QueueError>;
    /// Hides a received message from other receivers for `hidden` from now (0: hand it back at
    /// once). SQS caps it at twelve hours.
    async fn set_visibility(
        &self,
        receipt: &str,
        hidden: std::time::Duration,
    ) -> Result<(), QueueError>;
}

/// The users the nightly sync covers.
#[async_trait]
pub trait UserDirectory: Send + Sync + std::fmt::Debug {
    /// Users with an active SmashRun source, in id order, after `after` (keyset paging: the
    /// store caps responses, so the whole list is never asked for at once).
    async fn active_smashrun_users(
        &self,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<UserId>, StoreError>;
}

/// Who a SmashRun account belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmashrunUser {
    pub id: String,
    pub user_name: Option<String>,
    pub display_name: Option<String>,
}

#[async_trait]
pub trait SmashrunApi: Send + Sync + std::fmt::Debug {
    /// One page of activity summaries, newest first. `since` filters on created-or-updated.
    async fn search_page(
        &self,
        access_token: &SecretString,
        page: u32,
        count: u32,
        since: Option<OffsetDateTime>,
    ) -> Result<Vec<Value>, SmashrunError>;
    /// Every activity id of the account, in one request (`search/ids` without paging): the
    /// consistent listing deletions are decided against.
    async fn list_ids(&self, access_token: &SecretString) -> Result<Vec<i64>, SmashrunError>;
    /// One activity by id, in the same form as a search result; `None` if SmashRun has no such
    /// activity (any more).
    async fn activity(
        &self,
        access_token: &SecretString,
        id: i64,
    ) -> Result<Option<Value>, SmashrunError>;
    /// How many runs the account has, when SmashRun says.
    async fn run_count(&self, access_token: &SecretString) -> Result<Option<u64>, SmashrunError>;
    async fn refresh(&self, refresh_token: &SecretString) -> Result<TokenGrant, SmashrunError>;
    /// SmashRun's consent page for this `state`, sending the browser back to the redirect URI
    /// registered for the application (it lives with the client credentials).
    async fn authorize_url(&self, state: &str) -> Result<String, SmashrunError>;
    /// Exchanges a code SmashRun issued for the registered redirect URI.
    async fn exchange_code(&self, code: &str) -> Result<TokenGrant, SmashrunError>;
    async fn user_info(&self, access_token: &SecretString) -> Result<SmashrunUser, SmashrunError>;
}

/// A user's linked SmashRun account as the sync needs it (tokens already decrypted).
#[derive(Debug, Clone)]
pub struct SmashrunSource {
    pub source_user_id: String,
    pub tokens: TokenSet,
    /// Bumped by every save of the tokens: a refresh is saved only over the pair it read.
    pub tokens_version: i64,
    pub sync_cursor: Option<OffsetDateTime>,
    /// Where the last unfinished sync stopped, if one did.
    pub checkpoint: Option<SourceCheckpoint>,
}

/// How a page of runs landed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UpsertCounts {
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
}

/// When one listing may not mark runs deleted on its own: more than `max_runs` unlisted, or
/// more than `max_percent` of the stored runs. The listing is then taken again, and must agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeletionGuard {
    pub max_runs: u64,
    pub max_percent: u64,
}

impl DeletionGuard {
    pub const USUAL: Self = Self {
        max_runs: 50,
        max_percent: 10,
    };

    pub fn allows(&self, unlisted: u64, stored: u64) -> bool {
        unlisted <= self.max_runs
            && unlisted.saturating_mul(100) <= stored.saturating_mul(self.max_percent)
    }
}

/// What comparing SmashRun's listing with the stored runs found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Stored, not deleted, and not in the listing.
    pub unlisted: u64,
    /// How many of those were marked deleted (0 when `unlisted` was over the limit).
    pub marked: u64,
    /// Stored runs that are not deleted, before marking.
    pub stored: u64,
    /// Listed but not stored (the first ones, up to the limit asked for).
    pub absent: Vec<i64>,
}

#[async_trait]
pub trait RunStore: Send + Sync + std::fmt::Debug {
    /// Idempotent: upserting the same runs twice changes nothing the second time, and a row
    /// whose values are unchanged is not written at all. Counts are relative to `job`: a run this
    /// job inserted counts as inserted however often the page is upserted again. `checkpoint` is
    /// stored on the source in the same transaction.
    async fn upsert_runs(
        &self,
        user: UserId,
        runs: &[Run],
        job: JobId,
        checkpoint: &SourceCheckpoint,
    ) -> Result<UpsertCounts, StoreError>;
    /// Compares `listed` (every id SmashRun lists) with the stored runs and marks deleted those
    /// unlisted, unless `guard` forbids it. Returns up to `max_absent` listed ids that are not
    /// stored (lowest first).
    async fn reconcile(
        &self,
        user: UserId,
        listed: &[i64],
        guard: Option<DeletionGuard>,
        max_absent: u32,
        job: JobId,
    ) -> Result<Reconciled, StoreError>;
    /// What `job` did to the store: runs it inserted, and runs it changed that it did not insert.
    async fn job_counts(&self, user: UserId, job: JobId) -> Result<(u64, u64), StoreError>;
}

#[async_trait]
pub trait SourceStore: Send + Sync + std::fmt::Debug {
    async fn smashrun_source(&self, user: UserId) -> Result<Option<SmashrunSource>, StoreError>;
    /// Saves refreshed tokens over the pair of `expected_version` only (compare-and-set: with
    /// rotating refresh tokens, a second worker refreshing at once must not overwrite the newer
    /// pair). `None` when another save came first.
    async fn save_tokens(
        &self,
        user: UserId,
        source_user_id: &str,
        tokens: &TokenSet,
        expected_version: i64,
    ) -> Result<Option<i64>, StoreError>;
    /// SmashRun refused the tokens for good: the runner must log in again, and the nightly
    /// run skips the source until then.
    async fn mark_needs_relink(&self, user: UserId, source_user_id: &str)
    -> Result<(), StoreError>;
    /// A sync finished: stores the new cursor (if any) and clears the source's checkpoint.
    async fn record_sync(
        &self,
        user: UserId,
        source_user_id: &str,
        cursor: Option<OffsetDateTime>,
        at: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Creates or finds the user who owns this SmashRun account and stores its tokens.
    async fn link_smashrun(
        &self,
        account: &SmashrunUser,
        tokens: &TokenSet,
    ) -> Result<UserId, StoreError>;
}

#[async_trait]
pub trait ApiKeyStore: Send + Sync + std::fmt::Debug {
    /// The user of an unrevoked key.
    async fn user_for_key(&self, hash: &ApiKeyHash) -> Result<Option<UserId>, StoreError>;
    async fn insert_key(
        &self,
        user: UserId,
        hash: &ApiKeyHash,
        prefix: &str,
        label: &str,
    ) -> Result<(), StoreError>;
    /// Revokes the key (`all`: every key of its user); how many were revoked.
    async fn revoke(&self, hash: &ApiKeyHash, all: bool) -> Result<u64, StoreError>;
    /// Who the key belongs to, their SmashRun link and the key itself.
    async fn me(&self, hash: &ApiKeyHash) -> Result<Option<stk_protocol::Me>, StoreError>;
}

/// Filters of a run list, already validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunQuery {
    pub since: Option<stk_protocol::IsoDate>,
    pub until: Option<stk_protocol::IsoDate>,
    pub limit: u32,
    pub offset: u64,
}

/// What the runner reads, computed by the store (never by pulling all rows).
#[async_trait]
pub trait RunnerViews: Send + Sync + std::fmt::Debug {
    async fn streak(
        &self,
        user: UserId,
        top: u32,
    ) -> Result<stk_protocol::StreakSummary, StoreError>;
    async fn stats(&self, user: UserId) -> Result<stk_protocol::Stats, StoreError>;
    async fn monthly(
        &self,
        user: UserId,
        limit: u32,
    ) -> Result<stk_protocol::MonthlyTotals, StoreError>;
    async fn records(&self, user: UserId) -> Result<stk_protocol::Records, StoreError>;
    async fn runs(
        &self,
        user: UserId,
        query: RunQuery,
    ) -> Result<stk_protocol::RunList, StoreError>;
    async fn settings(&self, user: UserId) -> Result<stk_protocol::Settings, StoreError>;
    async fn time_zone_exists(&self, name: &str) -> Result<bool, StoreError>;
    async fn update_settings(
        &self,
        user: UserId,
        change: &SettingsChange,
    ) -> Result<stk_protocol::Settings, StoreError>;
}
