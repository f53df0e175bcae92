//! Where a job starts: the linked source and its tokens, and the checkpoint to go on from.

use stk_protocol::{JobErrorCode, JobProgress, SyncKind, WaitReason};
use time::OffsetDateTime;
use tracing::{info, warn};

use super::advice::Stop;
use super::tokens::{Held, Linked};
use super::{Run, SyncEngine};
use crate::job::{Job, SourceCheckpoint};

impl SyncEngine {
    pub(super) async fn plan(&self, job: &mut Job, run: &mut Run<'_>) -> Result<Linked, Stop> {
        let user = job.user_id;
        let source = self
            .counted(&run.counters.store, || self.sources.smashrun_source(user))
            .await?
            .ok_or_else(|| Stop::Fail {
                code: JobErrorCode::NotLinked,
                message: "no SmashRun account is linked to this user: run `stk auth login`".into(),
            })?;
        let mut linked = Linked {
            source_user_id: source.source_user_id.clone(),
            tokens: Held {
                set: source.tokens.clone(),
                version: source.tokens_version,
            },
            refreshed: false,
        };
        if linked.tokens.set.needs_refresh(self.clock.now()) {
            self.refresh(job, &mut linked, run).await?;
        }

        let now = self.clock.now();
        if let Some(saved) = &source.checkpoint {
            self.resume_from(job, saved, source.sync_cursor, now);
        }
        if job.checkpoint.cursor_candidate.is_none() {
            job.started_at = Some(now);
            job.checkpoint.cursor_candidate = Some(now);
            job.checkpoint.from_utc = match job.spec.kind {
                SyncKind::Incremental => source.sync_cursor.map(|c| c - self.settings.overlap),
                SyncKind::Range | SyncKind::Full => None,
            };
            if job.checkpoint.from_utc.is_none() && job.spec.kind != SyncKind::Range {
                // Only a progress bar depends on it: a failure here must not fail the sync.
                let total = self
                    .call_smashrun(job, &mut linked, run, |access| {
                        let api = self.smashrun.clone();
                        async move { api.run_count(&access).await }
                    })
                    .await;
                match total {
                    Ok(total) => job.progress.expected_total = total,
                    Err(Stop::Fail { .. } | Stop::Fault(_)) => {
                        warn!("could not read the expected total");
                    }
                    Err(stop) => return Err(stop),
                }
            }
        }
        job.started_at.get_or_insert(now);
        Ok(linked)
    }

    /// Takes the source's checkpoint when it is further on than the job's own: the page after
    /// the last one that landed (the job table is written less often than pages land), or,
    /// for a new job, where an unfinished sync that asked the same question stopped.
    fn resume_from(
        &self,
        job: &mut Job,
        saved: &SourceCheckpoint,
        cursor: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) {
        if saved.job_id == job.id {
            let ahead = saved.checkpoint.next_page > job.checkpoint.next_page
                || saved.checkpoint.paging_done && !job.checkpoint.paging_done;
            if ahead {
                info!(
                    next_page = saved.checkpoint.next_page,
                    "resuming from the last page that landed"
                );
                let requests = (job.progress.smashrun_requests, job.progress.store_requests);
                job.checkpoint = saved.checkpoint.clone();
                job.progress = JobProgress {
                    smashrun_requests: requests.0.max(saved.progress.smashrun_requests),
                    store_requests: requests.1.max(saved.progress.store_requests),
                    ..saved.progress.clone()
                };
            }
        } else if job.checkpoint.cursor_candidate.is_none()
            && saved.continues(job.spec.kind, cursor, now)
        {
            info!(previous_job = %saved.job_id, next_page = saved.checkpoint.next_page, "continuing where an unfinished sync stopped");
            job.checkpoint = saved.checkpoint.clone();
            job.progress.expected_total = saved.progress.expected_total;
            job.started_at = Some(now);
        }
    }

    /// When the current budget hour ends (now, if none is running).
    pub(super) fn budget_renews(&self, job: &Job, now: OffsetDateTime) -> OffsetDateTime {
        job.checkpoint
            .budget_since
            .map_or(now + self.settings.budget_window, |since| {
                since + self.settings.budget_window
            })
    }

    /// Charges the SmashRun requests made since the last charge to the budget hour.
    pub(super) fn charge(&self, job: &mut Job, run: &mut Run<'_>) {
        let made = requests_made(job, run);
        let new = made.saturating_sub(run.charged);
        run.charged = made;
        let now = self.clock.now();
        if job
            .checkpoint
            .budget_since
            .is_none_or(|since| now >= since + self.settings.budget_window)
        {
            job.checkpoint.budget_since = Some(now);
            job.checkpoint.budget_used = 0;
        }
        job.checkpoint.budget_used = job
            .checkpoint
            .budget_used
            .saturating_add(u32::try_from(new).unwrap_or(u32::MAX));
    }

    /// Whether the job may make `requests` more SmashRun requests now. It must stop to wait for
    /// the budget hour to renew, or to hand over before the invocation's deadline.
    pub(super) fn gate(&self, job: &mut Job, run: &mut Run<'_>, requests: u32) -> Option<Stop> {
        self.charge(job, run);
        self.would_stop(job, run, requests)
    }

    /// [`Self::gate`] without charging: for checks made while a page is being stored.
    pub(super) fn would_stop(&self, job: &Job, run: &Run<'_>, requests: u32) -> Option<Stop> {
        let now = self.clock.now();
        if let Some(deadline) = run.deadline
            && deadline - now < run.margin
        {
            return Some(Stop::Wait {
                until: now,
                reason: WaitReason::Continue,
            });
        }
        let made = requests_made(job, run);
        let uncharged = u32::try_from(made.saturating_sub(run.charged)).unwrap_or(u32::MAX);
        let hour_running = job
            .checkpoint
            .budget_since
            .is_some_and(|since| now < since + self.settings.budget_window);
        let used = if hour_running {
            job.checkpoint.budget_used
        } else {
            0
        };
        if used.saturating_add(uncharged).saturating_add(requests) > self.settings.hourly_budget {
            let until = if hour_running {
                self.budget_renews(job, now)
            } else {
                now + self.settings.budget_window
            };
            return Some(Stop::Wait {
                until,
                reason: WaitReason::RateLimit,
            });
        }
        None
    }
}

/// SmashRun requests the job has made, this delivery's not yet added to its progress included.
fn requests_made(job: &Job, run: &Run<'_>) -> u64 {
    job.progress.smashrun_requests
        + run
            .counters
            .smashrun
            .load(std::sync::atomic::Ordering::Relaxed)
}
