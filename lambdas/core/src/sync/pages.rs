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

/// Pages read into runs.
pub(super) struct PageRead {
    pub(super) runs: Vec<RunRecord>,
    /// Activities on the pages (before any range filter).
    pub(super) len: usize,
    /// Activities that could not become runs, all counted...
    pub(super) rejected: u64,
    /// ...and the first of them listed with their reasons.
    pub(super) reasons: Vec<RejectedActivity>,
}

/// Requests a page may need: the page itself, and a refresh if the token is refused.
const PAGE_REQUESTS: u32 = 2;

/// Most pages stored in one upsert (about a megabyte of JSON).
const MAX_BATCH_PAGES: usize = 10;

impl SyncEngine {
    /// Fetches pages while the ones before them are being stored: each upsert takes every page
    /// fetched meanwhile (so a store slower than SmashRun gets larger, fewer writes), and one
    /// upsert at a time, in page order, so the checkpoint stored with a batch is always true.
    pub(super) async fn pages(
        &self,
        job: &mut Job,
        run: &mut Run<'_>,
        linked: &mut Linked,
    ) -> Result<(), Stop> {
        // Fetched and not yet stored, in page order; whether the last of them ends the paging;
        // why fetching stopped early, once it has.
        let mut pending: Vec<Vec<Value>> = Vec::new();
        let mut ended = false;
        let mut stopping: Option<Stop> = None;
        loop {
            if pending.is_empty() {
                if let Some(stop) = stopping {
                    return Err(stop);
                }
                if ended {
                    return Ok(());
                }
                let page = job.checkpoint.next_page;
                if let Some(stop) = self
                    .too_many_pages(page)
                    .or_else(|| self.gate(job, run, PAGE_REQUESTS))
                {
                    return Err(stop);
                }
                let activities = self.fetch_page(job, page, linked, run).await?;
                ended = self.is_last(job, &activities);
                pending.push(activities);
            }
            let batch = std::mem::take(&mut pending);
            let read = read_page(job, batch.iter().flatten());
            let (checkpoint, progress) = advanced(job, &read, batch.len(), ended);
            let stored = std::sync::atomic::AtomicBool::new(false);
            let store = async {
                let counts = self
                    .store_page(job, &read.runs, &checkpoint, &progress, run)
                    .await;
                stored.store(true, std::sync::atomic::Ordering::Release);
                counts
            };
            let job_now: &Job = job;
            let run_now: &Run<'_> = run;
            let fetch_more = async {
                let mut fetched: Vec<Vec<Value>> = Vec::new();
                let mut last = ended;
                let mut stop = None;
                let mut page = checkpoint.next_page;
                while stopping.is_none()
                    && !last
                    && fetched.len() < MAX_BATCH_PAGES
                    && !stored.load(std::sync::atomic::Ordering::Acquire)
                {
                    let wanted = PAGE_REQUESTS * (u32::try_from(fetched.len()).unwrap_or(0) + 1);
                    if let Some(early) = self
                        .too_many_pages(page)
                        .or_else(|| self.would_stop(job_now, run_now, wanted))
                    {
                        stop = Some(early);
                        break;
                    }
                    match self.fetch_page(job_now, page, linked, run_now).await {
                        Ok(activities) => {
                            last = self.is_last(job_now, &activities);
                            fetched.push(activities);
                            page += 1;
                        }
                        Err(failed) => {
                            stop = Some(failed);
                            break;
                        }
                    }
                }
                (fetched, last, stop)
            };
            let (counts, (fetched, last, stop)) = tokio::join!(store, fetch_more);
            self.land(job, checkpoint, progress, counts?);
            self.charge(job, run);
            if !fetched.is_empty() {
                ended = last;
            }
            pending = fetched;
            // What was fetched before the stop is stored first, then the stop is taken.
            stopping = stopping.or(stop);
            self.save_if_due(job, run).await?;
        }
    }

    fn too_many_pages(&self, page: u32) -> Option<Stop> {
        (page >= self.settings.max_pages).then(|| Stop::Fail {
            code: JobErrorCode::TooManyPages,
            message: format!(
                "SmashRun kept returning pages past {page}: the sync stopped to stay safe; please report this job id"
            ),
        })
    }

    /// A short page ends the paging, and so does a range sync's page that reaches before the
    /// range.
    fn is_last(&self, job: &Job, activities: &[Value]) -> bool {
        if activities.len() < self.settings.page_size as usize {
            return true;
        }
        let Some(since) = job.spec.since.filter(|_| job.spec.kind == SyncKind::Range) else {
            return false;
        };
        activities
            .iter()
            .filter_map(|a| RunRecord::from_smashrun(a).ok())
            .any(|run| run.local_date < to_date(since))
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

/// The job's checkpoint and progress once `read` (of `pages` pages) has landed, the upsert's
/// counts aside.
fn advanced(job: &Job, read: &PageRead, pages: usize, last: bool) -> (Checkpoint, JobProgress) {
    let pages = u32::try_from(pages).unwrap_or(u32::MAX);
    let mut checkpoint = job.checkpoint.clone();
    checkpoint.next_page += pages;
    checkpoint.paging_done = last;
    checkpoint.runs_read += read.runs.len() as u64;
    let mut progress = job.progress.clone();
    progress.pages += pages;
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

/// Reads pages into runs: unreadable activities are counted and logged, runs outside a range
/// dropped, and duplicate ids collapsed (one upsert cannot touch a row twice; a run shifted
/// from one page to the next shows on both).
pub(super) fn read_page<'a>(
    job: &Job,
    activities: impl IntoIterator<Item = &'a Value>,
) -> PageRead {
    let mut runs: Vec<RunRecord> = Vec::new();
    let mut rejected = 0;
    let mut reasons = Vec::new();
    let mut len = 0;
    for activity in activities {
        len += 1;
        match RunRecord::from_smashrun(activity) {
            Ok(run) => {
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
        len,
        rejected,
        reasons,
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
