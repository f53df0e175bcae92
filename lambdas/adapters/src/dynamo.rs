//! Jobs in DynamoDB.
//!
//! One table, keyed by `pk`:
//! - `<job id>`: the job record, with `user_id` + `created_ms` projected into the `by_user` index;
//! - `active#<user id>`: the user's single active-job slot, naming the job that holds it;
//! - `idem#<user id>#<key>`: an idempotency key, naming the job it created;
//! - `login#<session id>`: a login session (`sessions`), which also has `user_id` and
//!   `created_ms` once linked, so it shows in the `by_user` index too: listings leave it out.
//!
//! Records carry `expires_at` (epoch seconds) for DynamoDB's TTL. TTL deletes lazily (and moto
//! never does), so every read also ignores expired records.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use stk_core::job::{Checkpoint, Job, Lease, SyncSpec};
use stk_core::ports::{Claim, Created, JobRepository};
use stk_core::{JobId, JobStoreError, UserId};
use stk_protocol::{JobError, JobProgress, JobStatus, SyncKind, WaitReason};
use time::OffsetDateTime;
use tracing::{Instrument, info_span};

pub use crate::config::names::JOBS_BY_USER_INDEX;

/// How long a finished job stays readable.
const FINISHED_RETENTION: time::Duration = time::Duration::days(7);
/// How long an unfinished job (and its slot) can live at all: a week of retries at most.
const UNFINISHED_RETENTION: time::Duration = time::Duration::days(7);

pub(crate) type Item = HashMap<String, AttributeValue>;

#[derive(Debug, Clone)]
pub struct DynamoJobs {
    client: Client,
    table: String,
}

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(crate) fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

fn from_ms(v: i64) -> Result<OffsetDateTime, JobStoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(v) * 1_000_000)
        .map_err(|_| JobStoreError::Corrupt(format!("timestamp {v} out of range")))
}

pub(crate) fn unavailable<E: std::error::Error + Send + Sync + 'static>(e: E) -> JobStoreError {
    JobStoreError::Unavailable(Box::new(e))
}

fn active_key(user: UserId) -> String {
    format!("active#{user}")
}

fn idempotency_key(user: UserId, key: &str) -> String {
    format!("idem#{user}#{key}")
}

fn expired(item: &Item, now: OffsetDateTime) -> bool {
    get_n(item, "expires_at").is_some_and(|at| at <= now.unix_timestamp())
}

pub(crate) fn get_s<'a>(item: &'a Item, key: &str) -> Option<&'a str> {
    item.get(key)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

pub(crate) fn get_n(item: &Item, key: &str) -> Option<i64> {
    item.get(key)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

/// Everything but the lease and status bookkeeping, as written on each progress save.
fn progress_values(job: &Job) -> Result<Vec<(&'static str, AttributeValue)>, JobStoreError> {
    let progress =
        serde_json::to_string(&job.progress).map_err(|e| JobStoreError::Corrupt(e.to_string()))?;
    let checkpoint = serde_json::to_string(&job.checkpoint)
        .map_err(|e| JobStoreError::Corrupt(e.to_string()))?;
    let mut values = vec![
        ("progress", s(progress)),
        ("checkpoint", s(checkpoint)),
        ("next_page", n(job.checkpoint.next_page)),
        ("attempts", n(job.attempts)),
        ("failures", n(job.failures)),
        ("updated_ms", n(ms(job.updated_at))),
    ];
    if let Some(t) = job.started_at {
        values.push(("started_ms", n(ms(t))));
    }
    if let Some(lease) = &job.lease {
        values.push(("lease_until", n(ms(lease.until))));
    }
    if let Some((until, reason)) = job.waiting {
        values.push(("wait_until_ms", n(ms(until))));
        values.push(("wait_reason", s(reason.as_str())));
    }
    Ok(values)
}

fn to_item(job: &Job) -> Result<Item, JobStoreError> {
    let mut item: Item = HashMap::from([
        ("pk".to_owned(), s(job.id.to_string())),
        ("user_id".to_owned(), s(job.user_id.to_string())),
        ("created_ms".to_owned(), n(ms(job.created_at))),
        ("kind".to_owned(), s(SyncKind::as_str(job.spec.kind))),
        ("status".to_owned(), s(JobStatus::as_str(job.status))),
        (
            "expires_at".to_owned(),
            n((job.created_at + UNFINISHED_RETENTION).unix_timestamp()),
        ),
    ]);
    if let Some(since) = job.spec.since {
        item.insert("since".into(), s(since.to_string()));
    }
    if let Some(until) = job.spec.until {
        item.insert("until".into(), s(until.to_string()));
    }
    for (k, v) in progress_values(job)? {
        item.insert(k.into(), v);
    }
    Ok(item)
}

fn from_item(item: &Item) -> Result<Job, JobStoreError> {
    let corrupt =
        |what: &str| JobStoreError::Corrupt(format!("job record without a valid `{what}`"));
    let text = |key: &str| get_s(item, key).ok_or_else(|| corrupt(key));
    let date = |key: &str| {
        get_s(item, key)
            .map(str::parse)
            .transpose()
            .map_err(|_| corrupt(key))
    };
    let time_opt = |key: &str| get_n(item, key).map(from_ms).transpose();
    let kind = SyncKind::from_name(text("kind")?).ok_or_else(|| corrupt("kind"))?;
    let created_at = from_ms(get_n(item, "created_ms").ok_or_else(|| corrupt("created_ms"))?)?;
    let status = JobStatus::from_name(text("status")?).ok_or_else(|| corrupt("status"))?;
    let progress: JobProgress = match get_s(item, "progress") {
        Some(p) => serde_json::from_str(p).map_err(|_| corrupt("progress"))?,
        None => JobProgress::default(),
    };
    let error = match (get_s(item, "error_code"), get_s(item, "error_message")) {
        (Some(code), Some(message)) => Some(JobError {
            code: code.to_owned(),
            message: message.to_owned(),
        }),
        _ => None,
    };
    let lease = match (get_s(item, "lease_owner"), get_n(item, "lease_until")) {
        (Some(owner), Some(until)) => Some(Lease {
            owner: owner.to_owned(),
            until: from_ms(until)?,
        }),
        _ => None,
    };
    Ok(Job {
        id: text("pk")?.parse().map_err(|_| corrupt("pk"))?,
        user_id: text("user_id")?.parse().map_err(|_| corrupt("user_id"))?,
        spec: SyncSpec {
            kind,
            since: date("since")?,
            until: date("until")?,
        },
        status,
        created_at,
        started_at: time_opt("started_ms")?,
        finished_at: time_opt("finished_ms")?,
        attempts: get_n(item, "attempts")
            .unwrap_or(0)
            .try_into()
            .unwrap_or(u32::MAX),
        failures: get_n(item, "failures")
            .unwrap_or(0)
            .try_into()
            .unwrap_or(u32::MAX),
        updated_at: match time_opt("updated_ms")? {
            Some(t) => t,
            None => created_at,
        },
        lease,
        waiting: match (time_opt("wait_until_ms")?, get_s(item, "wait_reason")) {
            (Some(until), Some(reason)) if status == JobStatus::Waiting => Some((
                until,
                WaitReason::from_name(reason).ok_or_else(|| corrupt("wait_reason"))?,
            )),
            _ => None,
        },
        checkpoint: match get_s(item, "checkpoint") {
            Some(c) => serde_json::from_str(c).map_err(|_| corrupt("checkpoint"))?,
            // Written before checkpoints were kept whole.
            None => Checkpoint {
                next_page: get_n(item, "next_page")
                    .unwrap_or(0)
                    .try_into()
                    .unwrap_or(u32::MAX),
                from_utc: time_opt("from_utc_ms")?,
                cursor_candidate: time_opt("cursor_ms")?,
                ..Checkpoint::default()
            },
        },
        progress,
        error,
    })
}

impl DynamoJobs {
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }

    async fn get_item(&self, pk: &str) -> Result<Option<Item>, JobStoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable(e.into_service_error()))?;
        Ok(output
            .item
            .filter(|item| !expired(item, OffsetDateTime::now_utc())))
    }

    /// The job an active slot or idempotency record points at, if it is still there.
    async fn pointed_job(&self, pk: &str) -> Result<Option<(String, Job)>, JobStoreError> {
        let Some(pointer) = self.get_item(pk).await? else {
            return Ok(None);
        };
        let Some(job_id) = get_s(&pointer, "job_id").map(str::to_owned) else {
            return Ok(None);
        };
        let job = match job_id.parse::<JobId>() {
            Ok(id) => self.get(id).await?,
            Err(_) => None,
        };
        Ok(job.map(|job| (job_id, job)))
    }

    fn pointer_put(
        &self,
        pk: String,
        job: &Job,
        condition: &str,
        stale: Option<&str>,
    ) -> Result<TransactWriteItem, JobStoreError> {
        let mut put = Put::builder()
            .table_name(&self.table)
            .item("pk", s(pk))
            .item("job_id", s(job.id.to_string()))
            .item(
                "expires_at",
                n((job.created_at + UNFINISHED_RETENTION).unix_timestamp()),
            )
            .condition_expression(condition)
            .expression_attribute_values(":now", n(OffsetDateTime::now_utc().unix_timestamp()));
        if let Some(stale) = stale {
            put = put.expression_attribute_values(":stale", s(stale));
        }
        Ok(TransactWriteItem::builder()
            .put(put.build().map_err(unavailable)?)
            .build())
    }
}

#[async_trait]
impl JobRepository for DynamoJobs {
    async fn create(&self, job: &Job, key: Option<&str>) -> Result<Created, JobStoreError> {
        async {
            let idem_pk = key.map(|k| idempotency_key(job.user_id, k));
            if let Some(pk) = &idem_pk
                && let Some((_, existing)) = self.pointed_job(pk).await?
                && existing.user_id == job.user_id
            {
                return Ok(Created::Repeated(existing));
            }
            // A slot naming a finished or vanished job is stale and may be taken over.
            let mut stale: Option<String> = None;
            for _ in 0..3 {
                let slot_condition = if stale.is_some() {
                    "attribute_not_exists(pk) OR expires_at <= :now OR job_id = :stale"
                } else {
                    "attribute_not_exists(pk) OR expires_at <= :now"
                };
                let mut items = vec![
                    TransactWriteItem::builder()
                        .put(
                            Put::builder()
                                .table_name(&self.table)
                                .set_item(Some(to_item(job)?))
                                .condition_expression("attribute_not_exists(pk)")
                                .build()
                                .map_err(unavailable)?,
                        )
                        .build(),
                    self.pointer_put(
                        active_key(job.user_id),
                        job,
                        slot_condition,
                        stale.as_deref(),
                    )?,
                ];
                if let Some(pk) = &idem_pk {
                    items.push(self.pointer_put(
                        pk.clone(),
                        job,
                        "attribute_not_exists(pk) OR expires_at <= :now",
                        None,
                    )?);
                }
                match self
                    .client
                    .transact_write_items()
                    .set_transact_items(Some(items))
                    .send()
                    .await
                {
                    Ok(_) => return Ok(Created::New(job.clone())),
                    Err(e) => {
                        let e = e.into_service_error();
                        if !e.is_transaction_canceled_exception() {
                            return Err(unavailable(e));
                        }
                    }
                }
                if let Some(pk) = &idem_pk
                    && let Some((_, existing)) = self.pointed_job(pk).await?
                {
                    return Ok(Created::Repeated(existing));
                }
                match self.pointed_job(&active_key(job.user_id)).await? {
                    Some((_, existing))
                        if !existing.status.is_finished()
                            && !existing.abandoned(job.created_at) =>
                    {
                        return Ok(Created::Active(existing));
                    }
                    Some((id, _)) => stale = Some(id),
                    None => {
                        stale = self
                            .get_item(&active_key(job.user_id))
                            .await?
                            .and_then(|slot| get_s(&slot, "job_id").map(str::to_owned));
                    }
                }
            }
            Err(JobStoreError::Conflict)
        }
        .instrument(info_span!("create_job", job_id = %job.id))
        .await
    }

    async fn get(&self, id: JobId) -> Result<Option<Job>, JobStoreError> {
        match self.get_item(&id.to_string()).await? {
            Some(item) if item.contains_key("user_id") => from_item(&item).map(Some),
            _ => Ok(None),
        }
    }

    async fn list_for_user(&self, user: UserId, limit: u32) -> Result<Vec<Job>, JobStoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(JOBS_BY_USER_INDEX)
            .key_condition_expression("user_id = :u")
            .filter_expression("NOT begins_with(pk, :session)")
            .expression_attribute_values(":u", s(user.to_string()))
            .expression_attribute_values(":session", s(crate::sessions::KEY_PREFIX.to_owned()))
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| unavailable(e.into_service_error()))?;
        let now = OffsetDateTime::now_utc();
        output
            .items()
            .iter()
            .filter(|item| !expired(item, now))
            .map(from_item)
            .collect()
    }

    async fn claim(
        &self,
        id: JobId,
        lease: Lease,
        now: OffsetDateTime,
    ) -> Result<Claim, JobStoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(id.to_string()))
            // The right-hand sides read the item before the update: `prev_status` is what the
            // job was when claimed (running under a lapsed lease: its worker stopped).
            .update_expression(
                "SET prev_status = #status, #status = :running, \
                 attempts = if_not_exists(attempts, :zero) + :one, \
                 lease_owner = :owner, lease_until = :until, updated_ms = :now \
                 REMOVE wait_until_ms, wait_reason",
            )
            .condition_expression(
                "attribute_exists(user_id) AND (#status = :queued OR \
                 ((#status = :running OR #status = :waiting) AND \
                 (attribute_not_exists(lease_until) OR lease_until <= :now)))",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":running", s(JobStatus::Running.as_str()))
            .expression_attribute_values(":waiting", s(JobStatus::Waiting.as_str()))
            .expression_attribute_values(":queued", s(JobStatus::Queued.as_str()))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":owner", s(lease.owner.clone()))
            .expression_attribute_values(":until", n(ms(lease.until)))
            .expression_attribute_values(":now", n(ms(now)))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .instrument(info_span!("claim_job", job_id = %id))
            .await;
        match result {
            Ok(output) => {
                let item = output
                    .attributes
                    .ok_or_else(|| JobStoreError::Corrupt("claim returned no record".into()))?;
                let after_crash = get_s(&item, "prev_status") == Some(JobStatus::Running.as_str());
                from_item(&item).map(|job| Claim::Claimed { job, after_crash })
            }
            Err(e) => {
                let e = e.into_service_error();
                let old = match &e {
                    aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(c) => {
                        c.item().cloned()
                    }
                    _ => return Err(unavailable(e)),
                };
                let old = match old {
                    Some(item) => Some(item),
                    // Not every DynamoDB answers with the old item: read it.
                    None => self.get_item(&id.to_string()).await?,
                };
                match old {
                    None => Ok(Claim::Missing),
                    Some(item) if !item.contains_key("user_id") || expired(&item, now) => {
                        Ok(Claim::Missing)
                    }
                    Some(item) => {
                        let job = from_item(&item)?;
                        Ok(if job.status.is_finished() {
                            Claim::Finished(job)
                        } else {
                            Claim::Busy {
                                until: job.claimable_at(),
                            }
                        })
                    }
                }
            }
        }
    }

    async fn save_progress(&self, job: &Job) -> Result<(), JobStoreError> {
        let owner = job
            .lease
            .as_ref()
            .map(|l| l.owner.clone())
            .ok_or(JobStoreError::Conflict)?;
        let values = progress_values(job)?;
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(job.id.to_string()))
            .condition_expression(
                "(#status = :running OR #status = :waiting) AND lease_owner = :owner",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":running", s(JobStatus::Running.as_str()))
            .expression_attribute_values(":waiting", s(JobStatus::Waiting.as_str()))
            .expression_attribute_values(":owner", s(owner))
            .expression_attribute_values(":new_status", s(job.status.as_str()));
        let mut sets = vec!["#status = :new_status".to_owned()];
        // A job that runs again keeps no stale wait.
        let removes = if job.waiting.is_none() {
            " REMOVE wait_until_ms, wait_reason"
        } else {
            ""
        };
        for (i, (name, value)) in values.into_iter().enumerate() {
            sets.push(format!("{name} = :v{i}"));
            update = update.expression_attribute_values(format!(":v{i}"), value);
        }
        let result = update
            .update_expression(format!("SET {}{removes}", sets.join(", ")))
            .send()
            .instrument(info_span!("save_progress", job_id = %job.id))
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => {
                let e = e.into_service_error();
                if e.is_conditional_check_failed_exception() {
                    Err(JobStoreError::Conflict)
                } else {
                    Err(unavailable(e))
                }
            }
        }
    }

    async fn finish(&self, job: &Job) -> Result<(), JobStoreError> {
        let finished_at = job.finished_at.unwrap_or_else(OffsetDateTime::now_utc);
        // The lease and any wait are removed below; they must not also be set.
        let mut values: Vec<_> = progress_values(job)?
            .into_iter()
            .filter(|(name, _)| !["lease_until", "wait_until_ms", "wait_reason"].contains(name))
            .collect();
        values.push(("#status", s(JobStatus::as_str(job.status))));
        values.push(("finished_ms", n(ms(finished_at))));
        values.push((
            "expires_at",
            n((finished_at + FINISHED_RETENTION).unix_timestamp()),
        ));
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(job.id.to_string()))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":queued", s(JobStatus::Queued.as_str()))
            .expression_attribute_values(":running", s(JobStatus::Running.as_str()))
            .expression_attribute_values(":waiting", s(JobStatus::Waiting.as_str()));
        let mut sets = Vec::new();
        for (i, (name, value)) in values.into_iter().enumerate() {
            sets.push(format!("{name} = :v{i}"));
            update = update.expression_attribute_values(format!(":v{i}"), value);
        }
        let mut removes = vec!["lease_owner", "lease_until", "wait_until_ms", "wait_reason"];
        match &job.error {
            Some(error) => {
                sets.push("error_code = :code, error_message = :message".into());
                update = update
                    .expression_attribute_values(":code", s(error.code.clone()))
                    .expression_attribute_values(":message", s(error.message.clone()));
            }
            None => removes.extend(["error_code", "error_message"]),
        }
        // Only the lease holder (or, for a job never claimed, its creator) may finish a job.
        let condition = match &job.lease {
            Some(lease) => {
                update = update.expression_attribute_values(":owner", s(lease.owner.clone()));
                "(#status = :running OR #status = :waiting OR #status = :queued) \
                 AND lease_owner = :owner"
            }
            None => {
                "(#status = :running OR #status = :waiting OR #status = :queued) \
                 AND attribute_not_exists(lease_owner)"
            }
        };
        let result = update
            .update_expression(format!(
                "SET {} REMOVE {}",
                sets.join(", "),
                removes.join(", ")
            ))
            .condition_expression(condition)
            .send()
            .instrument(
                info_span!("finish_job", job_id = %job.id, status = JobStatus::as_str(job.status)),
            )
            .await;
        if let Err(e) = result {
            let e = e.into_service_error();
            return Err(if e.is_conditional_check_failed_exception() {
                JobStoreError::Conflict
            } else {
                unavailable(e)
            });
        }
        // Free the user's slot if this job still holds it; a crash here leaves a stale slot
        // that `create` recognises and takes over.
        let freed = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(active_key(job.user_id)))
            .condition_expression("job_id = :id")
            .expression_attribute_values(":id", s(job.id.to_string()))
            .send()
            .await;
        if let Err(e) = freed {
            let e = e.into_service_error();
            if !e.is_conditional_check_failed_exception() {
                return Err(unavailable(e));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn job_records_round_trip() {
        let mut job = Job::new(
            UserId::new(uuid::Uuid::from_u128(9)),
            SyncSpec {
                kind: SyncKind::Range,
                since: Some("2024-02-29".parse().unwrap()),
                until: None,
            },
            datetime!(2026-01-01 10:00:00.123 UTC),
        );
        job.attempts = 2;
        job.failures = 1;
        job.status = JobStatus::Waiting;
        job.waiting = Some((datetime!(2026-01-01 11:00 UTC), WaitReason::RateLimit));
        job.checkpoint.budget_used = 12;
        job.checkpoint.next_page = 7;
        job.checkpoint.from_utc = Some(datetime!(2025-12-31 10:00 UTC));
        job.progress.runs_inserted = 700;
        let mut item = to_item(&job).unwrap();
        assert_eq!(from_item(&item).unwrap(), job);
        item.insert("status".into(), s("exploded"));
        assert!(from_item(&item).is_err());
    }
}
