//! Text the CLI shows: summaries, status blocks, tables. Pure functions, unit-tested.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::time::Duration;

use stk_protocol::{JobProgress, JobStatus, SyncJob, SyncKind, WaitReason};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

/// Text from the server with control characters removed, so an answer cannot drive the terminal.
pub fn clean(text: &str) -> Cow<'_, str> {
    if text.chars().any(char::is_control) {
        Cow::Owned(text.chars().filter(|c| !c.is_control()).collect())
    } else {
        Cow::Borrowed(text)
    }
}

pub use crate::format::thousands;

/// `12.3 s`, `4 min 05 s`, `2 h 03 min`.
pub fn duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs < 60 {
        format!("{:.1} s", d.as_secs_f64())
    } else if secs < 3600 {
        format!("{} min {:02} s", secs / 60, secs % 60)
    } else {
        format!("{} h {:02} min", secs / 3600, (secs % 3600) / 60)
    }
}

pub fn parse_timestamp(raw: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(raw, &Rfc3339).ok()
}

/// An RFC 3339 timestamp shown as `2026-03-01 14:02:11 UTC`; anything else as it came.
pub fn timestamp(raw: &str) -> String {
    parse_timestamp(raw)
        .and_then(|t| {
            t.to_offset(time::UtcOffset::UTC)
                .format(format_description!(
                    "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
                ))
                .ok()
        })
        .unwrap_or_else(|| clean(raw).into_owned())
}

/// How long the job took from creation to its end, when the timestamps say.
pub fn elapsed(job: &SyncJob) -> Option<Duration> {
    let start = parse_timestamp(&job.created_at)?;
    let end = parse_timestamp(job.finished_at.as_deref()?)?;
    Duration::try_from(end - start).ok()
}

pub fn status_word(status: JobStatus) -> &'static str {
    status.as_str()
}

/// The runner's UTC offset, read once at start-up while the process has one thread (the only
/// time the platform lets it be read soundly); UTC if it cannot be.
static LOCAL_OFFSET: std::sync::OnceLock<Option<time::UtcOffset>> = std::sync::OnceLock::new();

pub fn init_local_offset() {
    LOCAL_OFFSET.get_or_init(|| time::UtcOffset::current_local_offset().ok());
}

/// `14:05` in the runner's local time (`14:05 UTC` when it is unknown); the date too when it
/// is not today.
pub fn local_clock(raw: &str) -> String {
    let Some(at) = parse_timestamp(raw) else {
        return clean(raw).into_owned();
    };
    let (offset, zone) = match LOCAL_OFFSET.get().copied().flatten() {
        Some(offset) => (offset, ""),
        None => (time::UtcOffset::UTC, " UTC"),
    };
    let local = at.to_offset(offset);
    let today = OffsetDateTime::now_utc().to_offset(offset).date();
    let text = if local.date() == today {
        local.format(format_description!("[hour]:[minute]"))
    } else {
        local.format(format_description!("[year]-[month]-[day] [hour]:[minute]"))
    };
    text.map(|t| format!("{t}{zone}"))
        .unwrap_or_else(|_| clean(raw).into_owned())
}

/// Why a waiting job waits, and until when.
pub fn waiting_message(job: &SyncJob) -> String {
    let Some(waiting) = &job.waiting else {
        return "waiting".into();
    };
    let until = local_clock(&waiting.until);
    match waiting.reason {
        WaitReason::RateLimit => format!("waiting for SmashRun's rate limit until {until}"),
        WaitReason::Retry => format!("a fault interrupted it: trying again at {until}"),
        WaitReason::Continue => "continuing in the next worker".into(),
    }
}

/// `incremental`, `full`, `range 2024-01-01..2024-02-01`.
pub fn kind(job: &SyncJob) -> String {
    match job.kind {
        SyncKind::Incremental => "incremental".into(),
        SyncKind::Full => "full".into(),
        SyncKind::Range => {
            let since = job.since.map(|d| d.to_string()).unwrap_or_default();
            let until = job.until.map(|d| d.to_string()).unwrap_or_default();
            format!("range {since}..{until}")
        }
    }
}

/// `4,812 activities seen; 4,812 inserted, 0 updated, 0 unchanged`
fn counts(p: &JobProgress) -> String {
    let mut text = format!(
        "{} activities seen; {} inserted, {} updated, {} unchanged",
        thousands(p.activities_seen),
        thousands(p.runs_inserted),
        thousands(p.runs_updated),
        thousands(p.runs_unchanged),
    );
    if p.runs_deleted > 0 {
        let _ = write!(text, ", {} deleted upstream", thousands(p.runs_deleted));
    }
    if p.activities_rejected > 0 {
        let _ = write!(text, ", {} unreadable", thousands(p.activities_rejected));
    }
    text
}

/// The lines printed on stdout when a job has succeeded.
pub fn success_summary(job: &SyncJob) -> Vec<String> {
    let p = &job.progress;
    let took = elapsed(job)
        .map(|d| format!(" in {}", duration(d)))
        .unwrap_or_default();
    let mut lines = vec![format!(
        "sync succeeded{took}: {} ({} SmashRun requests, {} store requests)",
        counts(p),
        thousands(p.smashrun_requests),
        thousands(p.store_requests),
    )];
    if p.runs_inserted + p.runs_updated == 0 {
        lines.push("nothing new: 0 runs inserted or updated".into());
    }
    if p.activities_rejected > 0 {
        lines.push(format!(
            "{} activities could not be stored (unreadable or out of bounds) and were skipped:",
            thousands(p.activities_rejected)
        ));
        for rejected in p.rejected.iter().take(5) {
            lines.push(format!("  {}", clean(&rejected.reason)));
        }
        let more = p
            .activities_rejected
            .saturating_sub(p.rejected.len().min(5) as u64);
        if more > 0 {
            lines.push(format!(
                "  and {} more (stk sync status --json lists up to {})",
                thousands(more),
                stk_protocol::MAX_REJECTED_LISTED
            ));
        }
    }
    lines
}

/// What was done before a job failed, or `None` when it failed before doing anything.
pub fn partial_progress(job: &SyncJob) -> Option<String> {
    let p = &job.progress;
    (p.pages > 0 || p.activities_seen > 0)
        .then(|| format!("before it failed: {} page(s), {}", p.pages, counts(p)))
}

/// The progress bar's message.
pub fn progress_message(job: &SyncJob) -> String {
    match job.status {
        JobStatus::Queued => "queued: waiting for a worker".into(),
        JobStatus::Waiting => {
            let p = &job.progress;
            format!(
                "{}: page {}, {} seen so far",
                waiting_message(job),
                p.pages,
                thousands(p.activities_seen)
            )
        }
        JobStatus::Running if job.progress.pages == 0 => {
            format!(
                "running (attempt {}): fetching the first page",
                job.attempts
            )
        }
        status => {
            let p = &job.progress;
            format!(
                "{}: page {}, {} seen; {} inserted, {} updated, {} unchanged",
                status_word(status),
                p.pages,
                thousands(p.activities_seen),
                thousands(p.runs_inserted),
                thousands(p.runs_updated),
                thousands(p.runs_unchanged),
            )
        }
    }
}

/// The block `stk sync status` prints.
pub fn status_block(job: &SyncJob) -> String {
    let p = &job.progress;
    let status = match job.status {
        JobStatus::Waiting => format!("waiting ({})", waiting_message(job)),
        other => status_word(other).into(),
    };
    let mut rows: Vec<(&str, String)> = vec![
        ("status", status),
        ("kind", kind(job)),
        ("created", timestamp(&job.created_at)),
    ];
    if let Some(started) = &job.started_at {
        rows.push(("started", timestamp(started)));
    }
    if let Some(finished) = &job.finished_at {
        let took = elapsed(job)
            .map(|d| format!(" ({})", duration(d)))
            .unwrap_or_default();
        rows.push(("finished", format!("{}{took}", timestamp(finished))));
    }
    rows.push(("attempts", job.attempts.to_string()));
    let pages = match p.expected_total {
        Some(total) => format!(
            "{} page(s), {} of {} activities",
            p.pages,
            thousands(p.activities_seen),
            thousands(total)
        ),
        None => format!("{} page(s)", p.pages),
    };
    rows.push(("progress", format!("{pages}; {}", counts(p))));
    rows.push((
        "requests",
        format!(
            "{} SmashRun, {} store",
            thousands(p.smashrun_requests),
            thousands(p.store_requests)
        ),
    ));
    if let Some(error) = &job.error {
        rows.push((
            "error",
            format!("{} ({})", clean(&error.message), clean(&error.code)),
        ));
    }

    let mut out = format!("sync {}\n", clean(&job.id));
    for (label, value) in rows {
        let _ = writeln!(out, "  {:<9} {value}", format!("{label}:"));
    }
    out
}

/// The table `stk sync list` prints: left-aligned text, right-aligned numbers.
/// `stk sync list`, fitted to `width` like the views' tables: the id (cut first), status and
/// creation stay; the counts and the kind give way on a narrow terminal.
pub fn job_table(jobs: &[SyncJob], width: usize) -> String {
    use crate::table::{Column, Table};
    let mut table = Table::new(vec![
        Column::left("ID").shrink_to(8),
        Column::left("STATUS"),
        Column::left("KIND").optional(4),
        Column::left("CREATED"),
        Column::right("INSERTED").optional(3),
        Column::right("UPDATED").optional(1),
        Column::right("UNCHANGED").optional(2),
    ]);
    for job in jobs {
        table.row(vec![
            clean(&job.id).into_owned(),
            status_word(job.status).into(),
            kind(job),
            timestamp(&job.created_at),
            thousands(job.progress.runs_inserted),
            thousands(job.progress.runs_updated),
            thousands(job.progress.runs_unchanged),
        ]);
    }
    table.render(width, crate::term::Paint::plain())
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use stk_protocol::JobError;

    #[test]
    fn a_waiting_job_says_why_and_until_when() {
        let mut waiting = job(JobStatus::Waiting);
        waiting.waiting = Some(stk_protocol::Waiting {
            until: "2026-03-01T15:05:00Z".into(),
            reason: WaitReason::RateLimit,
        });
        let message = progress_message(&waiting);
        assert!(
            message.starts_with("waiting for SmashRun's rate limit until 2026-03-01 15:05"),
            "{message}"
        );
        assert!(status_block(&waiting).contains("waiting (waiting for SmashRun's rate limit"));
        waiting.waiting.as_mut().unwrap().reason = WaitReason::Continue;
        assert!(progress_message(&waiting).starts_with("continuing in the next worker"));
    }

    pub(crate) fn job(status: JobStatus) -> SyncJob {
        SyncJob {
            id: "0b5e0c7e-1d6a-4a53-9a51-6f7d2b1e9c10".into(),
            status,
            kind: SyncKind::Full,
            since: None,
            until: None,
            created_at: "2026-03-01T14:02:00Z".into(),
            started_at: Some("2026-03-01T14:02:01Z".into()),
            finished_at: Some("2026-03-01T14:02:12.3Z".into()),
            attempts: 1,
            progress: JobProgress {
                pages: 49,
                activities_seen: 4812,
                runs_inserted: 4812,
                runs_updated: 0,
                runs_unchanged: 0,
                activities_rejected: 0,
                expected_total: Some(4812),
                smashrun_requests: 49,
                store_requests: 49,
                ..JobProgress::default()
            },
            error: None,
            waiting: None,
        }
    }

    #[test]
    fn numbers_get_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(4812), "4,812");
        assert_eq!(thousands(20_000_000), "20,000,000");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(Duration::from_millis(12_345)), "12.3 s");
        assert_eq!(duration(Duration::from_secs(245)), "4 min 05 s");
        assert_eq!(duration(Duration::from_secs(7380)), "2 h 03 min");
    }

    #[test]
    fn success_summary_matches_the_documented_shape() {
        let lines = success_summary(&job(JobStatus::Succeeded));
        assert_eq!(
            lines,
            [
                "sync succeeded in 12.3 s: 4,812 activities seen; 4,812 inserted, 0 updated, 0 unchanged (49 SmashRun requests, 49 store requests)"
            ]
        );
    }

    #[test]
    fn success_summary_says_when_nothing_changed() {
        let mut job = job(JobStatus::Succeeded);
        job.progress.runs_inserted = 0;
        job.progress.runs_unchanged = 4812;
        job.progress.activities_rejected = 2;
        job.progress.rejected = vec![stk_protocol::RejectedActivity {
            activity_id: Some("7".into()),
            reason: "activity 7: `distance` is over 1,000 km".into(),
        }];
        job.finished_at = None;
        let lines = success_summary(&job);
        assert!(lines[0].starts_with("sync succeeded: 4,812 activities seen; 0 inserted"));
        assert!(lines[0].contains(", 2 unreadable ("), "{}", lines[0]);
        assert_eq!(lines[1], "nothing new: 0 runs inserted or updated");
        assert!(lines[2].starts_with("2 activities could not be stored"));
        assert_eq!(lines[3], "  activity 7: `distance` is over 1,000 km");
        assert!(lines[4].starts_with("  and 1 more"), "{lines:?}");
    }

    #[test]
    fn timestamps_are_shown_in_utc_and_garbage_passes_through_cleaned() {
        assert_eq!(
            timestamp("2026-03-01T15:02:11+01:00"),
            "2026-03-01 14:02:11 UTC"
        );
        assert_eq!(timestamp("yesterday\x1b[2J"), "yesterday[2J");
    }

    #[test]
    fn status_block_lists_every_field() {
        let mut job = job(JobStatus::Failed);
        job.kind = SyncKind::Range;
        job.since = "2024-01-01".parse().ok();
        job.until = "2024-02-01".parse().ok();
        job.error = Some(JobError {
            code: "smashrun_auth".into(),
            message: "SmashRun refused the refresh token: run `stk auth login`".into(),
        });
        let block = status_block(&job);
        for expected in [
            "sync 0b5e0c7e-1d6a-4a53-9a51-6f7d2b1e9c10\n",
            "  status:   failed\n",
            "  kind:     range 2024-01-01..2024-02-01\n",
            "  created:  2026-03-01 14:02:00 UTC\n",
            "  finished: 2026-03-01 14:02:12 UTC (12.3 s)\n",
            "  attempts: 1\n",
            "  progress: 49 page(s), 4,812 of 4,812 activities; 4,812 activities seen;",
            "  error:    SmashRun refused the refresh token: run `stk auth login` (smashrun_auth)\n",
        ] {
            assert!(block.contains(expected), "missing {expected:?} in\n{block}");
        }
    }

    #[test]
    fn table_aligns_columns() {
        let mut other = job(JobStatus::Running);
        other.id = "short".into();
        other.kind = SyncKind::Incremental;
        other.progress.runs_inserted = 7;
        let table = job_table(&[job(JobStatus::Succeeded), other.clone()], 200);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("ID  "));
        assert!(lines[0].ends_with("INSERTED  UPDATED  UNCHANGED"));
        assert!(lines[2].starts_with("short     "));
        // Numbers are right-aligned under their header.
        let col = lines[0].find("INSERTED").unwrap() + "INSERTED".len();
        assert_eq!(&lines[1][col - 5..col], "4,812");
        assert_eq!(&lines[2][col - 1..col], "7");

        // A narrow terminal: the counts go, the id is cut, no line is wider than the terminal.
        let narrow = job_table(&[job(JobStatus::Succeeded), other], 50);
        assert!(
            narrow.lines().all(|l| crate::term::text_width(l) <= 50),
            "{narrow}"
        );
        assert!(
            narrow.lines().next().unwrap().contains("STATUS"),
            "{narrow}"
        );
        assert!(!narrow.contains("UPDATED"), "{narrow}");
    }

    #[test]
    fn progress_message_by_state() {
        let mut job = job(JobStatus::Queued);
        assert_eq!(progress_message(&job), "queued: waiting for a worker");
        job.status = JobStatus::Running;
        job.progress.pages = 3;
        job.progress.activities_seen = 300;
        job.progress.runs_inserted = 300;
        assert_eq!(
            progress_message(&job),
            "running: page 3, 300 seen; 300 inserted, 0 updated, 0 unchanged"
        );
    }
}
