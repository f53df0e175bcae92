//! SmashRun's pages, newest first. Each page's runs are stored, with the source's checkpoint in
//! the same transaction, while the next page is fetched: a sync takes about as long as its
//! SmashRun round trips, and a crash anywhere resumes after the last page that landed.

use serde_json::Value;
use stk_protocol::{JobErrorCode, JobProgress, MAX_REJECTED_LISTED, RejectedActivity, SyncKind};
use tracing::{Instrument, info_span, warn};

use super::advice::Stop;
use super::tokens::Linked;
use super::{Run, SyncEngine};
use crate::activity::Run as RunRecord;
use crate::job::{Checkpoint, Job, SourceCheckpoint};
use crate::ports::UpsertCounts;

/// A page read into runs.
pub(super) struct PageRead {
    pub(super) runs: Vec<RunRecord>,
    /// Activities on the page (before any range filter).
    pub(super) len: usize,
    /// Activities that could not become runs, all counted...
    pub(super) rejected: u64,
    /// ...and the first of them listed with their reasons.
    pub(super) reasons: Vec<RejectedActivity>,
    pub(super) oldest: Option<time::Date>,
}

/// Requests a page may need: the page itself, and a refresh if the token is refused.
const PAGE_REQUESTS: u32 = 2;

impl SyncEngine {
    pub(super) async fn pages(
        &self,
        job: &mut Job,
        run: &mut Run<'_>,
        linked: &mut Linked,
    ) -> Result<(), Stop> {
        let mut prefetched: Option<Vec<Value>> = None;
        loop {
            let page = job.checkpoint.next_page;
            if page >= self.settings.max_pages {
                return Err(Stop::Fail {
                    code: JobErrorCode::TooManyPages,
                    message: format!(
                        "SmashRun kept returning pages past {page}: the sync stopped to stay safe; please report this job id"
                    ),
                });
            }
            let activities = match prefetched.take() {
                Some(activities) => activities,
                None => {
                    if let Some(stop) = self.gate(job, run, PAGE_REQUESTS) {
                        return Err(stop);
                    }
                    self.fetch_page(job, page, linked, run).await?
                }
            };
            let read = read_page(job, &activities);
            let last = read.len < self.settings.page_size as usize
                || matches!(
                    (job.spec.kind, job.spec.since, read.oldest),
                    (SyncKind::Range, Some(since), Some(oldest)) if oldest < to_date(since)
                );
            // Before the checkpoint is taken: the gate charges the budget it carries.
            let gate = if last {
                None
            } else {
                self.gate(job, run, PAGE_REQUESTS)
            };
            let (checkpoint, progress) = advanced(job, &read, last);
            let counts = if last || gate.is_some() {
                self.store_page(job, &read.runs, &checkpoint, &progress, run)
                    .await?
            } else {
                let (stored, next) = tokio::join!(
                    self.store_page(job, &read.runs, &checkpoint, &progress, run),
                    self.fetch_page(job, page + 1, linked, run),
                );
                let counts = stored?;
                match next {
                    Ok(activities) => prefetched = Some(activities),
                    Err(stop) => {
                        self.land(job, checkpoint, progress, counts);
                        return Err(stop);
                    }
                }
                counts
            };
            self.land(job, checkpoint, progress, counts);
            if let Some(stop) = gate {
                return Err(stop);
            }
            if last {
                return Ok(());
            }
            self.save_if_due(job, run).await?;
        }
    }

    /// The page has landed: the job takes the state stored with it, plus its counts.
    fn land(
        &self,
        job: &mut Job,
        checkpoint: Checkpoint,
        progress: JobProgress,
        counts: UpsertCounts,
    ) {
        let requests = (job.progress.smashrun_requests, job.progress.store_requests);
        job.checkpoint = checkpoint;
        job.progress = JobProgress {
            runs_inserted: progress.runs_inserted + counts.inserted,
            runs_updated: progress.runs_updated + counts.updated,
            runs_unchanged: progress.runs_unchanged + counts.unchanged,
            smashrun_requests: requests.0,
            store_requests: requests.1,
            ..progress
        };
    }

    async fn fetch_page(
        &self,
        job: &Job,
        page: u32,
        linked: &mut Linked,
        run: &Run<'_>,
    ) -> Result<Vec<Value>, Stop> {
        let since = job.checkpoint.from_utc;
        let count = self.settings.page_size;
        self.call_smashrun(job, linked, run, |access| {
            let api = self.smashrun.clone();
            async move { api.search_page(&access, page, count, since).await }
        })
        .instrument(info_span!("fetch_page", page))
        .await
    }

    /// Upserts runs with the checkpoint that is true once they have landed.
    pub(super) async fn store_page(
        &self,
        job: &Job,
        runs: &[RunRecord],
        checkpoint: &Checkpoint,
        progress: &JobProgress,
        run: &Run<'_>,
    ) -> Result<UpsertCounts, Stop> {
        let saved = SourceCheckpoint {
            job_id: job.id,
            kind: job.spec.kind,
            saved_at: self.clock.now(),
            checkpoint: checkpoint.clone(),
            progress: JobProgress {
                smashrun_requests: progress.smashrun_requests
                    + run
                        .counters
                        .smashrun
                        .load(std::sync::atomic::Ordering::Relaxed),
                store_requests: progress.store_requests
                    + run
                        .counters
                        .store
                        .load(std::sync::atomic::Ordering::Relaxed)
                    + 1,
                ..progress.clone()
            },
        };
        let user = job.user_id;
        let counts = self
            .counted(&run.counters.store, || {
                self.runs.upsert_runs(user, runs, job.id, &saved)
            })
            .instrument(info_span!(
                "upsert_page",
                page = checkpoint.next_page.saturating_sub(1),
                runs = runs.len()
            ))
            .await?;
        Ok(counts)
    }
}

/// The job's checkpoint and progress once `read` has landed (the upsert's counts aside).
fn advanced(job: &Job, read: &PageRead, last: bool) -> (Checkpoint, JobProgress) {
    let mut checkpoint = job.checkpoint.clone();
    checkpoint.next_page += 1;
    checkpoint.paging_done = last;
    checkpoint.runs_read += read.runs.len() as u64;
    let mut progress = job.progress.clone();
    progress.pages += 1;
    progress.activities_seen += read.len as u64;
    progress.activities_rejected += read.rejected;
    for reason in &read.reasons {
        // A page read again after a crash lists its rejects once.
        if progress.rejected.len() < MAX_REJECTED_LISTED && !progress.rejected.contains(reason) {
            progress.rejected.push(reason.clone());
        }
    }
    (checkpoint, progress)
}

/// Reads a page into runs: unreadable activities are counted and logged, runs outside a
/// range dropped, and duplicate ids within the page collapsed (one upsert cannot touch a
/// row twice). Also returns the oldest local date on the page.
pub(super) fn read_page(job: &Job, activities: &[Value]) -> PageRead {
    let mut runs: Vec<RunRecord> = Vec::with_capacity(activities.len());
    let mut rejected = 0;
    let mut reasons = Vec::new();
    let mut oldest = None;
    for activity in activities {
        match RunRecord::from_smashrun(activity) {
            Ok(run) => {
                oldest = Some(oldest.map_or(run.local_date, |o: time::Date| o.min(run.local_date)));
                if in_range(job, run.local_date) {
                    runs.push(run);
                }
            }
            Err(e) => {
                rejected += 1;
                warn!(error = %e, "activity rejected");
                if reasons.len() < MAX_REJECTED_LISTED {
                    reasons.push(RejectedActivity {
                        activity_id: e.activity_id().map(str::to_owned),
                        reason: e.to_string(),
                    });
                }
            }
        }
    }
    let mut seen = std::collections::HashSet::with_capacity(runs.len());
    runs.retain(|r| seen.insert(r.source_activity_id));
    PageRead {
        runs,
        len: activities.len(),
        rejected,
        reasons,
        oldest,
    }
}

fn to_date(d: stk_protocol::IsoDate) -> time::Date {
    time::Month::try_from(d.month())
        .ok()
        .and_then(|m| time::Date::from_calendar_date(i32::from(d.year()), m, d.day()).ok())
        .unwrap_or(time::Date::MIN)
}

fn in_range(job: &Job, date: time::Date) -> bool {
    job.spec.since.is_none_or(|s| date >= to_date(s))
        && job.spec.until.is_none_or(|u| date <= to_date(u))
}
