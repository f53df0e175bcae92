//! Streaks, the `/v1/my/stats` document and the admin summary, computed from the current activities.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::{Date, Duration, Month};

use crate::activity::Activity;
use crate::store::Store;
use crate::timefmt;

/// What the sandbox holds, for tests to compare against what a client synced.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// SmashRun user id of the simulated runner.
    pub user_id: i64,
    /// Activities whose `activityType` is `running` (or absent).
    pub run_count: u64,
    /// Every activity.
    pub activity_count: u64,
    /// Days in the longest streak (earliest one on a tie).
    pub longest_streak: u32,
    /// First day of the longest streak, `YYYY-MM-DD`.
    pub longest_streak_start: Option<String>,
    /// Days in the streak that includes today or yesterday, else 0.
    pub current_streak: u32,
    /// First day of the current streak, `YYYY-MM-DD`.
    pub current_streak_start: Option<String>,
    /// Sum of the runs' `distance` (km), rounded to 5 decimals.
    pub total_distance_km: f64,
}

/// A run of consecutive local dates, each with at least one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Streak {
    pub(crate) start: Date,
    pub(crate) days: u32,
}

impl Streak {
    pub(crate) fn end(&self) -> Date {
        self.start + Duration::days(i64::from(self.days) - 1)
    }

    fn contains(&self, day: Date) -> bool {
        self.start <= day && day <= self.end()
    }
}

/// Sorted, distinct local dates.
pub(crate) fn run_days<'a>(runs: impl Iterator<Item = &'a Activity>) -> Vec<Date> {
    let mut days: Vec<Date> = runs.map(Activity::local_date).collect();
    days.sort_unstable();
    days.dedup();
    days
}

/// Streaks in date order, from sorted distinct dates.
pub(crate) fn streaks(days: &[Date]) -> Vec<Streak> {
    let mut out: Vec<Streak> = Vec::new();
    for &day in days {
        match out.last_mut() {
            Some(last) if last.end().next_day() == Some(day) => last.days += 1,
            _ => out.push(Streak {
                start: day,
                days: 1,
            }),
        }
    }
    out
}

/// The longest streak; the earliest one wins a tie.
pub(crate) fn longest(streaks: &[Streak]) -> Option<Streak> {
    streaks
        .iter()
        .copied()
        .fold(None, |best: Option<Streak>, s| match best {
            Some(b) if b.days >= s.days => Some(b),
            _ => Some(s),
        })
}

/// The streak that includes `today`, else the one that includes `today - 1`.
pub(crate) fn current(streaks: &[Streak], today: Date) -> Option<Streak> {
    let yesterday = today.previous_day().unwrap_or(today);
    let find = |day: Date| streaks.iter().rev().find(|s| s.contains(day)).copied();
    find(today).or_else(|| find(yesterday))
}

fn round_to(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

/// A number the way SmashRun writes it: rounded, and without a decimal point when integral.
pub(crate) fn json_number(value: f64, decimals: i32) -> Value {
    let rounded = round_to(value, decimals);
    if rounded.fract() == 0.0 && rounded.abs() < 9.0e15 {
        Value::from(rounded as i64)
    } else {
        serde_json::Number::from_f64(rounded).map_or(Value::Null, Value::Number)
    }
}

/// An exact decimal `units / 10^decimals` as a JSON number, without a decimal point when integral (`3086`,
/// `9.74928`).
pub(crate) fn json_fixed(units: i64, decimals: u32) -> Value {
    let scale = 10i64.pow(decimals);
    if units % scale == 0 {
        Value::from(units / scale)
    } else {
        // Division of two exact integers is correctly rounded, so this is the double nearest to the decimal, which
        // serde_json writes back as the same shortest decimal.
        serde_json::Number::from_f64(units as f64 / scale as f64).map_or(Value::Null, Value::Number)
    }
}

pub(crate) fn summary(store: &Store, user_id: i64, today: Date) -> Summary {
    let runs: Vec<&Activity> = store.iter().filter(|a| a.is_run).collect();
    let days = run_days(runs.iter().copied());
    let all = streaks(&days);
    let longest = longest(&all);
    let current = current(&all, today);
    // Summed oldest first so that the result does not depend on insertion history.
    let total: f64 = runs.iter().rev().map(|a| a.distance_km).sum();
    Summary {
        user_id,
        run_count: runs.len() as u64,
        activity_count: store.len() as u64,
        longest_streak: longest.map_or(0, |s| s.days),
        longest_streak_start: longest.map(|s| timefmt::format_date(s.start)),
        current_streak: current.map_or(0, |s| s.days),
        current_streak_start: current.map(|s| timefmt::format_date(s.start)),
        total_distance_km: round_to(total, 5),
    }
}

/// A calendar period for `/v1/my/stats[/{year}[/{month}]]`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Period {
    AllTime,
    Year(i32),
    Month(i32, Month),
}

impl Period {
    fn bounds(self) -> Option<(Date, Date)> {
        match self {
            Self::AllTime => None,
            Self::Year(y) => Some((
                Date::from_calendar_date(y, Month::January, 1).ok()?,
                Date::from_calendar_date(y, Month::December, 31).ok()?,
            )),
            Self::Month(y, m) => {
                let first = Date::from_calendar_date(y, m, 1).ok()?;
                let last = Date::from_calendar_date(y, m, m.length(y)).ok()?;
                Some((first, last))
            }
        }
    }
}

/// The stats document. Dates are `YYYY-MM-DDT00:00:00`; distances in km; durations in seconds.
pub(crate) fn stats(store: &Store, period: Period, today: Date) -> Value {
    let bounds = period.bounds();
    let in_period = |a: &&Activity| {
        a.is_run && bounds.is_none_or(|(from, to)| (from..=to).contains(&a.local_date()))
    };
    let mut runs: Vec<&Activity> = store.iter().filter(in_period).collect();
    runs.reverse(); // oldest first
    let days = run_days(runs.iter().copied());
    let all = streaks(&days);
    let longest_streak = longest(&all);
    let total_distance: f64 = runs.iter().map(|a| a.distance_km).sum();
    let total_duration: f64 = runs.iter().map(|a| a.duration_s).sum();
    let longest_run = runs
        .iter()
        .copied()
        .fold(None, |best: Option<&Activity>, a| match best {
            Some(b) if b.distance_km >= a.distance_km => Some(b),
            _ => Some(a),
        });
    let count = runs.len();
    let average = if count == 0 {
        0.0
    } else {
        total_distance / count as f64
    };
    // Weeks in the period: from its first day (or the first run, all time) to its last day (or today, if earlier).
    let span_start = bounds
        .map(|(from, _)| from)
        .or_else(|| days.first().copied());
    let span_end = bounds
        .map_or(today, |(_, to)| to.min(today))
        .max(days.last().copied().unwrap_or(today));
    let per_week = match span_start {
        Some(start) if !days.is_empty() => {
            let span_days = (span_end - start).whole_days() + 1;
            days.len() as f64 * 7.0 / span_days.max(1) as f64
        }
        _ => 0.0,
    };
    let longest_break = days
        .windows(2)
        .map(|w| (w[1] - w[0]).whole_days() - 1)
        .max()
        .unwrap_or(0);

    let mut doc = Map::new();
    doc.insert("runCount".into(), Value::from(count));
    doc.insert("totalDistance".into(), json_number(total_distance, 5));
    doc.insert("totalDuration".into(), json_number(total_duration, 3));
    doc.insert("averageRunLength".into(), json_number(average, 5));
    doc.insert(
        "longestRun".into(),
        json_number(longest_run.map_or(0.0, |a| a.distance_km), 5),
    );
    doc.insert(
        "longestRunDate".into(),
        longest_run.map_or(Value::Null, |a| {
            timefmt::format_date_midnight(a.local_date()).into()
        }),
    );
    doc.insert(
        "longestStreak".into(),
        Value::from(longest_streak.map_or(0, |s| s.days)),
    );
    doc.insert(
        "longestStreakDate".into(),
        longest_streak.map_or(Value::Null, |s| {
            timefmt::format_date_midnight(s.start).into()
        }),
    );
    doc.insert("longestBreakBetweenRuns".into(), Value::from(longest_break));
    doc.insert("averageDaysRunPerWeek".into(), json_number(per_week, 2));
    doc.insert("daysRun".into(), Value::from(days.len()));
    if matches!(period, Period::AllTime) {
        doc.insert("daysRunAllTime".into(), Value::from(days.len()));
    }
    Value::Object(doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn streak_rules() {
        let days = [
            date!(2024 - 01 - 01),
            date!(2024 - 01 - 02),
            date!(2024 - 01 - 04),
            date!(2024 - 01 - 05),
            date!(2024 - 01 - 06),
            date!(2024 - 01 - 08),
            date!(2024 - 01 - 09),
            date!(2024 - 01 - 10),
        ];
        let all = streaks(&days);
        assert_eq!(all.len(), 3);
        assert_eq!(
            longest(&all),
            Some(Streak {
                start: date!(2024 - 01 - 04),
                days: 3
            }),
            "earliest of equal streaks"
        );
        assert_eq!(
            current(&all, date!(2024 - 01 - 11)),
            Some(Streak {
                start: date!(2024 - 01 - 08),
                days: 3
            })
        );
        assert_eq!(
            current(&all, date!(2024 - 01 - 10)),
            Some(Streak {
                start: date!(2024 - 01 - 08),
                days: 3
            })
        );
        assert_eq!(current(&all, date!(2024 - 01 - 12)), None);
        assert_eq!(streaks(&[]), vec![]);
        assert_eq!(longest(&[]), None);
    }

    #[test]
    fn numbers_like_smashrun() {
        assert_eq!(json_number(13.0, 5).to_string(), "13");
        assert_eq!(json_number(9.749_281, 5).to_string(), "9.74928");
        assert_eq!(json_number(-4.37, 2).to_string(), "-4.37");
        assert_eq!(json_fixed(974_928, 5).to_string(), "9.74928");
        assert_eq!(json_fixed(563_270, 5).to_string(), "5.6327");
        assert_eq!(json_fixed(1_300_000, 5).to_string(), "13");
        assert_eq!(json_fixed(2_836_895, 3).to_string(), "2836.895");
        assert_eq!(json_fixed(-437, 2).to_string(), "-4.37");
    }
}
