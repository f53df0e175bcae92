//! Deletions, decided against one consistent listing of every id SmashRun has (`search/ids`),
//! never against what offset paging happened to show: a run deleted upstream during a sync
//! shifts the pages, and another run may never be listed on any of them. Listed ids that are
//! not stored are fetched one by one.

use std::collections::HashSet;

use stk_protocol::SyncKind;
use tracing::{Instrument, info, info_span, warn};

use super::advice::Stop;
use super::pages::read_page;
use super::tokens::Linked;
use super::{Run, SyncEngine};
use crate::job::Job;
use crate::ports::DeletionGuard;

impl SyncEngine {
    pub(super) async fn reconcile(
        &self,
        job: &mut Job,
        run: &mut Run<'_>,
        linked: &mut Linked,
    ) -> Result<(), Stop> {
        let span = info_span!("reconcile_deletions");
        async {
            if let Some(stop) = self.gate(job, run, 3) {
                return Err(stop);
            }
            let listed = self.list_ids(job, linked, run).await?;
            let user = job.user_id;
            let id = job.id;
            let max_absent = self.settings.max_fetch_by_id;
            let guard = Some(DeletionGuard::USUAL);
            let mut found = self
                .counted(&run.counters.store, || {
                    self.runs.reconcile(user, &listed, guard, max_absent, id)
                })
                .await?;
            if found.unlisted > found.marked {
                // An unusual share gone at once: take the listing again, and mark only what
                // both listings leave out.
                warn!(
                    unlisted = found.unlisted,
                    stored = found.stored,
                    "the listing leaves out an unusual share of the runs: listing again"
                );
                let again = self.list_ids(job, linked, run).await?;
                let first: HashSet<i64> = listed.iter().copied().collect();
                let second: HashSet<i64> = again.iter().copied().collect();
                if first == second {
                    found = self
                        .counted(&run.counters.store, || {
                            self.runs.reconcile(user, &again, None, max_absent, id)
                        })
                        .await?;
                } else {
                    warn!("the two listings disagree: no run is marked deleted this time");
                    job.progress.deletions_held_back = found.unlisted;
                }
            }
            job.progress.runs_deleted = found.marked;
            info!(
                listed = listed.len(),
                marked = found.marked,
                absent = found.absent.len(),
                "listing reconciled"
            );
            if job.spec.kind == SyncKind::Range {
                // A range sync stores only its dates: the rest is for the next full or
                // incremental sync.
                return Ok(());
            }
            self.fetch_absent(job, run, linked, &found.absent).await
        }
        .instrument(span)
        .await
    }

    async fn list_ids(
        &self,
        job: &Job,
        linked: &mut Linked,
        run: &Run<'_>,
    ) -> Result<Vec<i64>, Stop> {
        self.call_smashrun(job, linked, run, |access| {
            let api = self.smashrun.clone();
            async move { api.list_ids(&access).await }
        })
        .await
    }

    /// Fetches listed runs that paging did not show and stores them. Activities already
    /// rejected by this job are not asked for again.
    async fn fetch_absent(
        &self,
        job: &mut Job,
        run: &mut Run<'_>,
        linked: &mut Linked,
        absent: &[i64],
    ) -> Result<(), Stop> {
        let rejected: HashSet<&str> = job
            .progress
            .rejected
            .iter()
            .filter_map(|r| r.activity_id.as_deref())
            .collect();
        let wanted: Vec<i64> = absent
            .iter()
            .copied()
            .filter(|id| !rejected.contains(id.to_string().as_str()))
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        info!(
            count = wanted.len(),
            "fetching listed runs that paging did not show"
        );
        let mut activities = Vec::with_capacity(wanted.len());
        for id in wanted {
            if let Some(stop) = self.gate(job, run, 2) {
                return Err(stop);
            }
            let activity = self
                .call_smashrun(job, linked, run, |access| {
                    let api = self.smashrun.clone();
                    async move { api.activity(&access, id).await }
                })
                .await?;
            activities.extend(activity);
        }
        let read = read_page(job, &activities);
        job.progress.activities_rejected += read.rejected;
        for reason in read.reasons {
            if job.progress.rejected.len() < stk_protocol::MAX_REJECTED_LISTED {
                job.progress.rejected.push(reason);
            }
        }
        job.checkpoint.runs_read += read.runs.len() as u64;
        let checkpoint = job.checkpoint.clone();
        let progress = job.progress.clone();
        self.store_page(job, &read.runs, &checkpoint, &progress, run)
            .await?;
        job.progress.runs_fetched_by_id += read.runs.len() as u64;
        Ok(())
    }
}
