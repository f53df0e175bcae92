//! `stk sync`, `stk sync status` and `stk sync list`: queue a job, follow it with a progress
//! bar, list the recent ones.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use stk_protocol::{JobStatus, SyncJob, SyncRequestBody};

use crate::cli::{ListArgs, StartArgs, StatusArgs, SyncAction, SyncCommand, WaitArgs};
use crate::client::ApiClient;
use crate::error::CliError;
use crate::output::{Log, Out};
use crate::render::{self, clean};
use crate::settings::Resolved;

/// How long `--wait` keeps retrying while the API or the network is failing.
pub const RETRY_BUDGET: Duration = Duration::from_secs(30);

/// `stk sync ...`.
pub async fn run(settings: &Resolved, sync: SyncCommand, out: &mut Out) -> Result<(), CliError> {
    let log = settings.log;
    // Arguments first: a usage error wins over a configuration problem.
    let body = match sync.action {
        None => Some(sync.start.request_body()?),
        Some(_) => None,
    };
    let client = settings.connect()?;
    match (sync.action, body) {
        (Some(SyncAction::Status(args)), _) => status(&client, &args, out, log).await,
        (Some(SyncAction::List(args)), _) => {
            list(&client, &args, settings.text_style().width, out).await
        }
        (None, Some(body)) => start(&client, &sync.start, &body, out, log).await,
        (None, None) => Ok(()),
    }
}

/// `stk sync`: queue a job, then return or (`--wait`) follow it to the end.
async fn start(
    client: &ApiClient,
    args: &StartArgs,
    body: &SyncRequestBody,
    out: &mut Out,
    log: Log,
) -> Result<(), CliError> {
    let idempotency_key = uuid::Uuid::new_v4().to_string();
    let started = client.start_sync(body, &idempotency_key).await?;
    let job = started.job;
    let id = clean(&job.id).into_owned();

    if !args.json {
        if started.created {
            out.line(format_args!("sync queued: {id}"))?;
        } else {
            out.line(format_args!("a sync is already running: {id}"))?;
            out.line("no new sync was queued: run the command again once this one finishes")?;
        }
    }
    if !args.wait.wait {
        if args.json {
            out.json(&job)?;
        } else {
            out.line(format_args!("follow it with: stk sync status {id} --wait"))?;
        }
        return outcome(&job);
    }
    let job = wait_for(client, job, args.wait, !args.json, log).await?;
    finish(&job, args.json, out)
}

/// `stk sync status [JOB_ID]`.
async fn status(
    client: &ApiClient,
    args: &StatusArgs,
    out: &mut Out,
    log: Log,
) -> Result<(), CliError> {
    let job = match &args.job_id {
        Some(id) => client.job(id).await?,
        None => {
            let list = client.jobs().await?;
            list.jobs.into_iter().next().ok_or(CliError::NoJobs)?
        }
    };
    if args.wait.wait {
        let job = wait_for(client, job, args.wait, !args.json, log).await?;
        return finish(&job, args.json, out);
    }
    if args.json {
        out.json(&job)?;
    } else {
        out.text(&render::status_block(&job))?;
    }
    outcome(&job)
}

/// `stk sync list`.
async fn list(
    client: &ApiClient,
    args: &ListArgs,
    width: usize,
    out: &mut Out,
) -> Result<(), CliError> {
    let list = client.jobs().await?;
    if args.json {
        out.json(&list)
    } else if list.jobs.is_empty() {
        out.line("no sync jobs yet: start one with `stk sync`")
    } else {
        out.text(&render::job_table(&list.jobs, width))
    }
}

/// Prints a finished job: the summary (or JSON) on stdout, then its outcome.
fn finish(job: &SyncJob, json: bool, out: &mut Out) -> Result<(), CliError> {
    if json {
        out.json(job)?;
    } else {
        match job.status {
            JobStatus::Succeeded => {
                for line in render::success_summary(job) {
                    out.line(line)?;
                }
            }
            JobStatus::Failed => {
                if let Some(progress) = render::partial_progress(job) {
                    crate::output::stderr_line(format_args!("{progress}"));
                }
            }
            JobStatus::Queued | JobStatus::Running | JobStatus::Waiting => {
                out.text(&render::status_block(job))?;
            }
        }
    }
    outcome(job)
}

/// A failed job makes the command fail (exit 1); any other state is a success.
fn outcome(job: &SyncJob) -> Result<(), CliError> {
    match (&job.status, &job.error) {
        (JobStatus::Failed, Some(error)) => Err(CliError::JobFailed {
            id: clean(&job.id).into_owned(),
            code: clean(&error.code).into_owned(),
            message: clean(&error.message).into_owned(),
        }),
        (JobStatus::Failed, None) => Err(CliError::JobFailed {
            id: clean(&job.id).into_owned(),
            code: "unknown".into(),
            message: "the server gave no reason".into(),
        }),
        _ => Ok(()),
    }
}

/// Delay before the next poll after `failures` failed polls in a row: 0.5 s doubling to 5 s.
pub fn backoff(failures: u32) -> Duration {
    Duration::from_millis(500)
        .saturating_mul(2u32.saturating_pow(failures))
        .min(Duration::from_secs(5))
}

/// The first poll after a job is queued: most incremental syncs are done within tens of
/// milliseconds, and a runner should not wait a whole poll interval to hear so.
pub const FIRST_POLL: Duration = Duration::from_millis(25);

/// The delay after an answer that the job is still going: doubling from [`FIRST_POLL`] up to
/// the poll interval, so short jobs answer at their own speed and long ones cost few polls.
pub fn next_poll(delay: Duration, poll: Duration) -> Duration {
    delay.saturating_mul(2).min(poll)
}

/// Polls `GET /sync/{id}` until the job finishes, showing progress on stderr.
/// Transient failures are retried for up to [`RETRY_BUDGET`]; Ctrl-C stops waiting.
async fn wait_for(
    client: &ApiClient,
    mut job: SyncJob,
    wait: WaitArgs,
    show_progress: bool,
    log: Log,
) -> Result<SyncJob, CliError> {
    let poll = wait.poll_interval();
    // Debug lines and a live bar would garble each other: -v turns the bar off.
    let mut view = ProgressView::new(show_progress && log.verbosity() == 0);
    let interrupted = async {
        // Should the handler fail to install, waiting simply cannot be interrupted this way.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    tokio::pin!(interrupted);

    let mut failing_since: Option<Instant> = None;
    let mut failures = 0u32;
    let mut delay = FIRST_POLL.min(poll);
    let mut stall = Stall::new(&job, wait.stall_timeout());
    let result = loop {
        view.update(&job);
        if job.status.is_finished() {
            break Ok(job);
        }
        let id = job.id.clone();
        if let Some(still) = stall.check(&job, Instant::now()) {
            break Err(CliError::Stalled {
                id: clean(&id).into_owned(),
                still,
            });
        }
        let interruption = || CliError::Interrupted {
            id: clean(&id).into_owned(),
        };
        tokio::select! {
            () = &mut interrupted => break Err(interruption()),
            () = tokio::time::sleep(delay) => {}
        }
        let polled = tokio::select! {
            () = &mut interrupted => break Err(interruption()),
            polled = client.job(&id) => polled,
        };
        match polled {
            Ok(next) => {
                if next.status != job.status {
                    log.debug(format_args!(
                        "sync {} is {}",
                        clean(&id),
                        render::status_word(next.status)
                    ));
                }
                job = next;
                view.warned = false;
                failing_since = None;
                failures = 0;
                delay = next_poll(delay, poll);
            }
            Err(err) if err.is_transient() => {
                let since = *failing_since.get_or_insert_with(Instant::now);
                let waited = since.elapsed();
                if waited >= RETRY_BUDGET {
                    break Err(CliError::GaveUp {
                        id: clean(&id).into_owned(),
                        waited,
                        last: Box::new(err),
                    });
                }
                delay = backoff(failures).max(poll);
                failures += 1;
                view.retrying(&err, delay, log);
            }
            Err(err) => break Err(err),
        }
    };
    view.finish();
    result
}

/// Notices a job that makes no progress: the same status and counts for `timeout`.
struct Stall {
    timeout: Duration,
    seen: (JobStatus, stk_protocol::JobProgress),
    since: Instant,
}

impl Stall {
    fn new(job: &SyncJob, timeout: Duration) -> Self {
        Self {
            timeout,
            seen: (job.status, job.progress.clone()),
            since: Instant::now(),
        }
    }

    /// How long the job has stood still, once that is over the timeout.
    fn check(&mut self, job: &SyncJob, now: Instant) -> Option<Duration> {
        let current = (job.status, job.progress.clone());
        // A job waiting out a known wait is not stalled: the clock starts when the wait ends.
        let waiting = job
            .waiting
            .as_ref()
            .and_then(|w| render::parse_timestamp(&w.until))
            .is_some_and(|until| until > time::OffsetDateTime::now_utc());
        if current != self.seen || waiting {
            self.seen = current;
            self.since = now;
            return None;
        }
        let still = now.saturating_duration_since(self.since);
        (still >= self.timeout).then_some(still)
    }
}

/// The progress bar (or spinner, until the expected total is known) on stderr.
/// Hidden when stderr is not a terminal, with `--json` and with `-v`.
struct ProgressView {
    bar: Option<ProgressBar>,
    sized: bool,
    warned: bool,
    /// The first progress seen while waiting, to tell the rate from.
    first: Option<(Instant, u64)>,
}

/// Activities a second since `first`, and the time left at that pace, once both mean something.
pub fn rate_and_eta(
    first: (Instant, u64),
    now: Instant,
    seen: u64,
    total: Option<u64>,
) -> Option<(f64, Option<Duration>)> {
    let elapsed = now.checked_duration_since(first.0)?.as_secs_f64();
    let done = seen.checked_sub(first.1)?;
    if elapsed < 0.5 || done == 0 {
        return None;
    }
    let rate = done as f64 / elapsed;
    let left = total
        .and_then(|t| t.checked_sub(seen))
        .map(|left| Duration::from_secs_f64(left as f64 / rate));
    Some((rate, left))
}

impl ProgressView {
    fn new(show: bool) -> Self {
        let bar = show
            .then(|| ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()))
            .filter(|bar| !bar.is_hidden());
        if let Some(bar) = &bar {
            bar.set_style(
                ProgressStyle::with_template("{spinner} {elapsed:>3} {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        Self {
            bar,
            sized: false,
            warned: false,
            first: None,
        }
    }

    fn update(&mut self, job: &SyncJob) {
        let Some(bar) = &self.bar else { return };
        let now = Instant::now();
        let seen = job.progress.activities_seen;
        let first = *self.first.get_or_insert((now, seen));
        if let Some(total) = job.progress.expected_total {
            if !self.sized {
                // The bar takes a quarter of the terminal, so the counts and the message fit.
                let width = crate::term::terminal_width().unwrap_or(80);
                let bar_width = (width / 4).clamp(10, 40);
                bar.set_style(
                    ProgressStyle::with_template(&format!(
                        "{{spinner}} {{elapsed:>3}} [{{bar:{bar_width}}}] {{human_pos}}/{{human_len}} {{wide_msg}}"
                    ))
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                self.sized = true;
            }
            bar.set_length(total);
            bar.set_position(job.progress.activities_seen.min(total));
        }
        let pace = match rate_and_eta(first, now, seen, job.progress.expected_total) {
            Some((rate, Some(left))) => format!(
                "{}/s, about {} left · ",
                crate::format::thousands(rate.round() as u64),
                render::duration(left)
            ),
            Some((rate, None)) => format!("{}/s · ", crate::format::thousands(rate.round() as u64)),
            None => String::new(),
        };
        bar.set_message(format!("{pace}{}", render::progress_message(job)));
    }

    fn retrying(&mut self, err: &CliError, delay: Duration, log: Log) {
        let note = format!(
            "could not get progress ({err}): retrying in {:.1} s",
            delay.as_secs_f64()
        );
        match &self.bar {
            Some(bar) => bar.set_message(note),
            None if !self.warned => log.warn(format_args!("{note}")),
            None => log.debug(format_args!("{note}")),
        }
        self.warned = true;
    }

    fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::render::tests::job;

    #[test]
    fn a_job_that_stands_still_past_the_timeout_is_noticed() {
        let mut running = job(JobStatus::Running);
        let mut stall = Stall::new(&running, Duration::from_secs(60));
        let t0 = stall.since;
        assert_eq!(stall.check(&running, t0 + Duration::from_secs(59)), None);
        running.progress.pages += 1;
        assert_eq!(
            stall.check(&running, t0 + Duration::from_secs(70)),
            None,
            "it moved"
        );
        assert_eq!(stall.check(&running, t0 + Duration::from_secs(129)), None);
        assert_eq!(
            stall.check(&running, t0 + Duration::from_secs(131)),
            Some(Duration::from_secs(61))
        );
    }

    #[test]
    fn a_job_waiting_out_a_known_wait_is_not_stalled() {
        let mut waiting = job(JobStatus::Waiting);
        let until = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
        waiting.waiting = Some(stk_protocol::Waiting {
            until: until
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap(),
            reason: stk_protocol::WaitReason::RateLimit,
        });
        let mut stall = Stall::new(&waiting, Duration::from_secs(60));
        let t0 = stall.since;
        assert_eq!(stall.check(&waiting, t0 + Duration::from_secs(600)), None);
        // A wait that ended long ago is no excuse.
        waiting.waiting.as_mut().unwrap().until = "2020-01-01T00:00:00Z".into();
        let mut stall = Stall::new(&waiting, Duration::from_secs(60));
        let t0 = stall.since;
        assert!(
            stall
                .check(&waiting, t0 + Duration::from_secs(61))
                .is_some()
        );
    }

    #[test]
    fn rate_and_time_left_come_from_what_was_seen_while_waiting() {
        let t0 = Instant::now();
        assert_eq!(
            rate_and_eta((t0, 100), t0 + Duration::from_millis(100), 200, None),
            None
        );
        assert_eq!(
            rate_and_eta((t0, 100), t0 + Duration::from_secs(2), 100, Some(500)),
            None
        );
        let (rate, left) =
            rate_and_eta((t0, 100), t0 + Duration::from_secs(2), 300, Some(1_300)).unwrap();
        assert!((rate - 100.0).abs() < 1e-9);
        assert_eq!(left, Some(Duration::from_secs(10)));
        let (_, left) = rate_and_eta((t0, 0), t0 + Duration::from_secs(1), 50, None).unwrap();
        assert_eq!(left, None);
    }

    #[test]
    fn polls_start_soon_after_the_job_is_queued_then_back_off_to_the_interval() {
        let poll = Duration::from_millis(500);
        let delays: Vec<u128> =
            std::iter::successors(Some(FIRST_POLL), |d| Some(next_poll(*d, poll)))
                .take(8)
                .map(|d| d.as_millis())
                .collect();
        assert_eq!(delays, [25, 50, 100, 200, 400, 500, 500, 500]);
        // A poll interval shorter than the first poll is never exceeded.
        let fast = Duration::from_millis(10);
        assert_eq!(next_poll(FIRST_POLL.min(fast), fast), fast);
        // After a failure's longer backoff, the next answer brings the interval back.
        assert_eq!(next_poll(Duration::from_secs(5), poll), poll);
    }

    #[test]
    fn backoff_doubles_up_to_five_seconds_and_fits_the_budget() {
        let delays: Vec<u64> = (0..8).map(|n| backoff(n).as_millis() as u64).collect();
        assert_eq!(delays, [500, 1000, 2000, 4000, 5000, 5000, 5000, 5000]);
        assert_eq!(backoff(u32::MAX), Duration::from_secs(5));
        let total: Duration = (0..8).map(backoff).sum();
        assert!(total <= RETRY_BUDGET + Duration::from_secs(5));
    }

    #[test]
    fn only_failed_jobs_fail_the_command() {
        assert!(outcome(&job(JobStatus::Succeeded)).is_ok());
        assert!(outcome(&job(JobStatus::Running)).is_ok());
        let err = outcome(&job(JobStatus::Failed)).unwrap_err();
        assert_eq!(err.exit_code(), crate::exit::Exit::JobFailed);
        assert_eq!(
            err.to_string(),
            "sync failed: the server gave no reason (unknown)"
        );
    }
}
