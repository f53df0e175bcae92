//! What the runner reads: streaks, statistics, runs and settings. Distances are kilometres,
//! durations seconds, paces seconds per kilometre; the client converts for display.

use serde::{Deserialize, Serialize};

use crate::IsoDate;

/// `GET /settings`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// IANA zone name (`Europe/Paris`); `None` until set, and then "today" is UTC's.
    pub time_zone: Option<String>,
    /// A day counts for the streak when its runs add up to this; 0 means any run.
    pub min_streak_distance_km: f64,
}

/// `PATCH /settings`: only the fields given change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_streak_distance_km: Option<f64>,
}

/// A run of consecutive streak days.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Streak {
    pub start: IsoDate,
    pub end: IsoDate,
    pub days: u32,
    pub runs: u64,
    pub distance_km: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurrentStreak {
    pub start: IsoDate,
    pub end: IsoDate,
    pub days: u32,
    pub runs: u64,
    pub distance_km: f64,
    /// Whether today already counts; if not, a run today keeps the streak alive.
    pub today_done: bool,
    /// Days still to run to equal the longest streak (0 when this is the longest).
    pub days_to_record: u32,
    /// Distance still to run today to make it a streak day (0 when done or no minimum).
    pub distance_due_today_km: f64,
}

/// `GET /streak`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreakSummary {
    /// Today in the runner's zone.
    pub today: IsoDate,
    /// The zone used: the runner's, or `UTC` when none is set.
    pub time_zone: String,
    pub time_zone_set: bool,
    pub min_streak_distance_km: f64,
    /// The streak still alive (its last day is today or yesterday), if any.
    pub current: Option<CurrentStreak>,
    pub longest: Option<Streak>,
    /// Longest first.
    pub top: Vec<Streak>,
    /// Runs counted (deleted runs excluded).
    pub run_count: u64,
}

/// One run, as lists and records show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub activity_id: i64,
    /// The run's own local date.
    pub date: IsoDate,
    /// Local wall-clock start, `YYYY-MM-DDTHH:MM:SS`.
    pub start_local: String,
    pub distance_km: f64,
    pub duration_s: f64,
    pub pace_s_per_km: Option<f64>,
    pub heart_rate_avg: Option<i64>,
    pub temperature_c: Option<f64>,
    pub is_treadmill: Option<bool>,
}

/// `GET /runs` and `GET /runs/recent`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunList {
    /// Runs matching the filters, over all pages.
    pub total: u64,
    pub offset: u64,
    pub limit: u32,
    /// Newest first.
    pub runs: Vec<RunSummary>,
}

/// `GET /stats`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub runs: u64,
    pub days_run: u64,
    pub distance_km: f64,
    pub duration_s: f64,
    pub average_distance_km: Option<f64>,
    pub average_pace_s_per_km: Option<f64>,
    pub longest_run: Option<RunSummary>,
    pub first_run: Option<IsoDate>,
    pub last_run: Option<IsoDate>,
}

/// One calendar month of running, by the runs' local dates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonthTotal {
    /// `YYYY-MM`.
    pub month: String,
    pub runs: u64,
    pub distance_km: f64,
    pub duration_s: f64,
    pub average_distance_km: f64,
    pub average_pace_s_per_km: Option<f64>,
}

/// `GET /stats/monthly`: newest month first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonthlyTotals {
    pub months: Vec<MonthTotal>,
}

/// One ISO week (Monday to Sunday) of running.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeekTotal {
    /// The Monday.
    pub week_start: IsoDate,
    pub runs: u64,
    pub distance_km: f64,
}

/// `GET /records`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Records {
    pub longest_run: Option<RunSummary>,
    /// Fastest average pace among runs of at least `fastest_pace_min_distance_km`.
    pub fastest_pace: Option<RunSummary>,
    pub fastest_pace_min_distance_km: f64,
    pub best_month: Option<MonthTotal>,
    pub best_week: Option<WeekTotal>,
}
