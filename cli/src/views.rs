//! The runner's views as text: the streak panel, statistics, run tables, monthly totals,
//! records and settings. Pure functions of the API's answers and a [`Style`], unit-tested;
//! `tests/snapshots/` holds what the real binary prints.

use std::fmt::Write as _;

use stk_protocol::{
    CurrentStreak, IsoDate, MonthTotal, MonthlyTotals, Records, RunList, RunSummary, Settings,
    Stats, Streak, StreakSummary,
};

use crate::client::RunsQuery;
use crate::format::{
    Tier, UNKNOWN, Units, distance, distance_short, duration, hours_minutes, pace, temperature,
    thousands, total_duration,
};
use crate::render::clean;
use crate::table::{Column, Table};
use crate::term::{Color, Paint, text_width};

/// How to show things: units, colour and line width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub units: Units,
    pub paint: Paint,
    pub width: usize,
}

impl Style {
    /// Plain text `width` columns wide, in `units`.
    pub fn plain(units: Units, width: usize) -> Self {
        Self {
            units,
            paint: Paint::plain(),
            width,
        }
    }

    fn distance(&self, km: f64) -> String {
        distance(km, self.units)
    }

    /// `1.00 mi / 1.61 km`: the chosen units first, then the other ones.
    fn both_distances(&self, km: f64) -> String {
        format!(
            "{} / {}",
            distance(km, self.units),
            distance(km, self.units.other())
        )
    }
}

/// `Sun` for 2026-03-01.
pub fn weekday(date: IsoDate) -> &'static str {
    let month = time::Month::try_from(date.month()).unwrap_or(time::Month::January);
    match time::Date::from_calendar_date(i32::from(date.year()), month, date.day()) {
        Ok(day) => match day.weekday() {
            time::Weekday::Monday => "Mon",
            time::Weekday::Tuesday => "Tue",
            time::Weekday::Wednesday => "Wed",
            time::Weekday::Thursday => "Thu",
            time::Weekday::Friday => "Fri",
            time::Weekday::Saturday => "Sat",
            time::Weekday::Sunday => "Sun",
        },
        Err(_) => "",
    }
}

/// `1 day`, `4,330 days`.
fn days(n: u32) -> String {
    plural(u64::from(n), "day", "days")
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

const NO_RUNS: &str = "no runs yet: fetch them from SmashRun with `stk sync`";

/// A line of the panel and its colour.
type Line = (String, Option<Color>);

/// `stk streak`: the panel, today's zone and minimum, the top streaks, and (when the zone is not
/// set) a hint naming this machine's zone.
pub fn streak(summary: &StreakSummary, machine_zone: Option<&str>, style: &Style) -> String {
    let mut out = match &summary.current {
        Some(current) => {
            let tier = Tier::of(current.days);
            panel(
                tier.art(),
                tier_color(tier),
                &alive_lines(summary, current, style),
                style,
            )
        }
        None => panel(&[], Color::Yellow, &broken_lines(summary, style), style),
    };

    let zone = clean(&summary.time_zone);
    let minimum = if summary.min_streak_distance_km > 0.0 {
        format!(
            "a day counts from {}",
            style.distance(summary.min_streak_distance_km)
        )
    } else {
        "any run counts".to_owned()
    };
    let today = format!(
        "today is {} {} in {zone}",
        weekday(summary.today),
        summary.today
    );
    let footer = if text_width(&today) + 2 + text_width(&minimum) <= style.width {
        format!("{today}; {minimum}")
    } else {
        format!("{today};\n{minimum}")
    };
    for line in footer.lines() {
        let _ = writeln!(out, "{}", style.paint.paint(Color::Dim, line));
    }

    if !summary.top.is_empty() {
        out.push('\n');
        let _ = writeln!(out, "{}", style.paint.paint(Color::Bold, "TOP STREAKS"));
        out.push_str(&streak_table(summary, style));
    }
    if !summary.time_zone_set {
        out.push('\n');
        out.push_str(&zone_hint(machine_zone));
    }
    out
}

fn alive_lines(summary: &StreakSummary, current: &CurrentStreak, style: &Style) -> Vec<Line> {
    let tier = Tier::of(current.days);
    let mut lines: Vec<Line> = vec![
        (
            format!("{}-day streak", thousands(u64::from(current.days))),
            Some(Color::Bold),
        ),
        (
            format!(
                "since {} {}: {}, {}",
                weekday(current.start),
                current.start,
                plural(current.runs, "run", "runs"),
                style.distance(current.distance_km)
            ),
            None,
        ),
        (tier.label(), Some(tier_color(tier))),
    ];
    if current.today_done {
        lines.push(("today: done".into(), Some(Color::Green)));
    } else if current.distance_due_today_km > 0.0 {
        lines.push((
            format!(
                "today: run still due ({} to go)",
                style.both_distances(current.distance_due_today_km)
            ),
            Some(Color::Yellow),
        ));
    } else {
        lines.push(("today: run still due".into(), Some(Color::Yellow)));
    }
    if current.days_to_record == 0 && current.days > 1 {
        lines.push(("NEW RECORD!".into(), Some(Color::Magenta)));
    } else if current.days_to_record > 0 {
        let longest = summary
            .longest
            .as_ref()
            .map(|l| format!(" (longest: {})", days(l.days)))
            .unwrap_or_default();
        lines.push((
            format!("{} to record{longest}", days(current.days_to_record)),
            None,
        ));
    }
    lines
}

fn broken_lines(summary: &StreakSummary, style: &Style) -> Vec<Line> {
    let mut lines: Vec<Line> = vec![("no streak running".into(), Some(Color::Bold))];
    if summary.run_count == 0 {
        lines.push((NO_RUNS.into(), None));
        return lines;
    }
    let start = if summary.min_streak_distance_km > 0.0 {
        format!(
            "run {} today to start a new one",
            style.distance(summary.min_streak_distance_km)
        )
    } else {
        "run today to start a new one".to_owned()
    };
    lines.push((start, Some(Color::Yellow)));
    if let Some(longest) = &summary.longest {
        lines.push((
            format!(
                "longest: {}, {} to {}",
                days(longest.days),
                longest.start,
                longest.end
            ),
            None,
        ));
    }
    lines
}

fn tier_color(tier: Tier) -> Color {
    match tier {
        Tier::None | Tier::Spark => Color::Yellow,
        Tier::OnFire | Tier::Blazing => Color::Red,
        Tier::Inferno | Tier::Legendary => Color::Magenta,
    }
}

/// A rounded box holding the flames (when they fit) and the lines. Without room for a box, the
/// lines alone.
fn panel(art: &[&str], art_color: Color, lines: &[Line], style: &Style) -> String {
    let text_w = lines.iter().map(|(l, _)| text_width(l)).max().unwrap_or(0);
    let art_w = art.first().map_or(0, |l| text_width(l));
    let with_art = 2 + art_w + 2 + text_w + 2;
    let without_art = 2 + text_w + 2;
    let (art, art_w) = if !art.is_empty() && with_art <= style.width {
        (art, art_w)
    } else {
        (&[][..], 0)
    };
    let paint = style.paint;
    let mut out = String::new();
    if art.is_empty() && without_art > style.width {
        for (line, color) in lines {
            let _ = writeln!(out, "{}", paint.maybe(*color, line));
        }
        return out;
    }
    let inner = if art.is_empty() {
        text_w + 2
    } else {
        art_w + 2 + text_w + 2
    };
    let rows = art.len().max(lines.len());
    // The shorter of flames and text is centred against the taller.
    let art_top = (rows - art.len()) / 2;
    let text_top = (rows - lines.len()) / 2;
    let _ = writeln!(out, "╭{}╮", "─".repeat(inner));
    for row in 0..rows {
        let mut line = String::from("│ ");
        if !art.is_empty() {
            let flame = row
                .checked_sub(art_top)
                .and_then(|i| art.get(i))
                .copied()
                .unwrap_or("");
            line.push_str(&paint.paint(art_color, flame));
            line.push_str(&" ".repeat(art_w - text_width(flame) + 2));
        }
        let (text, color) = row
            .checked_sub(text_top)
            .and_then(|i| lines.get(i))
            .map_or(("", None), |(t, c)| (t.as_str(), *c));
        line.push_str(&paint.maybe(color, text));
        line.push_str(&" ".repeat(text_w - text_width(text)));
        line.push_str(" │");
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(out, "╰{}╯", "─".repeat(inner));
    out
}

fn streak_table(summary: &StreakSummary, style: &Style) -> String {
    let mut table = Table::new(vec![
        Column::right("#"),
        Column::left("START"),
        Column::left("END"),
        Column::right("DAYS"),
        Column::right("RUNS").optional(1),
        Column::right("DISTANCE").optional(2),
        Column::left("").optional(0),
    ]);
    let current_start = summary.current.as_ref().map(|c| c.start);
    for (rank, streak) in summary.top.iter().enumerate() {
        let is_current = Some(streak.start) == current_start;
        table.row_colored(
            streak_row(rank + 1, streak, is_current, style),
            is_current.then_some(Color::Yellow),
        );
    }
    table.render(style.width, style.paint)
}

fn streak_row(rank: usize, streak: &Streak, is_current: bool, style: &Style) -> Vec<String> {
    vec![
        rank.to_string(),
        streak.start.to_string(),
        streak.end.to_string(),
        thousands(u64::from(streak.days)),
        thousands(streak.runs),
        style.distance(streak.distance_km),
        if is_current { "current" } else { "" }.into(),
    ]
}

/// The hint shown while the runner's zone is not set.
pub fn zone_hint(machine_zone: Option<&str>) -> String {
    let mut out = String::from(
        "hint: your time zone is not set; streak days follow UTC. Set it with: stk config set timezone <ZONE>\n",
    );
    if let Some(zone) = machine_zone {
        let zone = clean(zone);
        let _ = writeln!(
            out,
            "      this machine is on {zone}: stk config set timezone {zone}"
        );
    }
    out
}

/// `label  value` lines with the values aligned.
fn block(rows: &[(String, String)]) -> String {
    let label_w = rows.iter().map(|(l, _)| text_width(l)).max().unwrap_or(0);
    let mut out = String::new();
    for (label, value) in rows {
        let pad = label_w - text_width(label);
        let _ = writeln!(out, "{label}{}  {value}", " ".repeat(pad));
    }
    out
}

fn row(label: &str, value: String) -> (String, String) {
    (label.to_owned(), value)
}

fn date_or_unknown(date: Option<IsoDate>) -> String {
    date.map_or_else(|| UNKNOWN.to_owned(), |d| d.to_string())
}

/// `26.22 mi on Sun 2019-10-13 (3:41:07, 8:26 /mi)`.
fn run_line(run: &RunSummary, style: &Style) -> String {
    format!(
        "{} on {} {} ({}, {})",
        style.distance(run.distance_km),
        weekday(run.date),
        run.date,
        duration(run.duration_s),
        pace(run.pace_s_per_km, style.units)
    )
}

/// `stk stats`.
pub fn stats(stats: &Stats, style: &Style) -> String {
    if stats.runs == 0 {
        return format!("{NO_RUNS}\n");
    }
    let units = style.units;
    block(&[
        row("runs", thousands(stats.runs)),
        row("days run", thousands(stats.days_run)),
        row("distance", style.distance(stats.distance_km)),
        row(
            "average distance",
            stats
                .average_distance_km
                .map_or_else(|| UNKNOWN.to_owned(), |d| style.distance(d)),
        ),
        row(
            "longest run",
            stats
                .longest_run
                .as_ref()
                .map_or_else(|| UNKNOWN.to_owned(), |r| run_line(r, style)),
        ),
        row("average pace", pace(stats.average_pace_s_per_km, units)),
        row("total time", total_duration(stats.duration_s)),
        row("first run", date_or_unknown(stats.first_run)),
        row("last run", date_or_unknown(stats.last_run)),
    ])
}

/// The table of runs shared by `stk recent` and `stk runs`.
pub fn run_table(runs: &[RunSummary], style: &Style) -> String {
    let units = style.units;
    let mut table = Table::new(vec![
        Column::left("DATE"),
        Column::left("DAY").optional(0),
        Column::right("DISTANCE"),
        Column::right("TIME").optional(4),
        Column::right("PACE").optional(5),
        Column::right("HR").optional(2),
        Column::right("TEMP").optional(1),
        Column::left("TREADMILL").optional(3),
    ]);
    for run in runs {
        table.row(vec![
            run.date.to_string(),
            weekday(run.date).into(),
            style.distance(run.distance_km),
            duration(run.duration_s),
            pace(run.pace_s_per_km, units),
            run.heart_rate_avg
                .map_or_else(|| UNKNOWN.to_owned(), |hr| hr.to_string()),
            temperature(run.temperature_c, units),
            if run.is_treadmill == Some(true) {
                "yes"
            } else {
                ""
            }
            .into(),
        ]);
    }
    table.render(style.width, style.paint)
}

/// `stk recent`.
pub fn recent(list: &RunList, style: &Style) -> String {
    if list.runs.is_empty() {
        return format!("{NO_RUNS}\n");
    }
    run_table(&list.runs, style)
}

/// `stk runs`: "Showing x-y of N runs", the table, and how to get the next page.
pub fn runs(list: &RunList, query: &RunsQuery, style: &Style) -> String {
    let range = match (query.since, query.until) {
        (Some(since), Some(until)) => format!(" from {since} to {until}"),
        (Some(since), None) => format!(" since {since}"),
        (None, Some(until)) => format!(" until {until}"),
        (None, None) => String::new(),
    };
    let runs_word = |n: u64| if n == 1 { "run" } else { "runs" };
    if list.runs.is_empty() {
        return if list.total == 0 && range.is_empty() {
            format!("{NO_RUNS}\n")
        } else if list.total == 0 {
            format!("no runs{range}\n")
        } else {
            format!(
                "no runs at offset {}: there {} {} {}{range}\n",
                thousands(list.offset),
                if list.total == 1 { "is" } else { "are" },
                thousands(list.total),
                runs_word(list.total)
            )
        };
    }
    let shown = list.runs.len() as u64;
    let first = list.offset + 1;
    let last = list.offset + shown;
    let mut out = format!(
        "Showing {}-{} of {} {}{range}\n",
        thousands(first),
        thousands(last),
        thousands(list.total),
        runs_word(list.total)
    );
    out.push_str(&run_table(&list.runs, style));
    if last < list.total {
        let mut next = format!("stk runs --offset {last}");
        if let Some(since) = query.since {
            let _ = write!(next, " --since {since}");
        }
        if let Some(until) = query.until {
            let _ = write!(next, " --until {until}");
        }
        if let Some(limit) = query.limit.filter(|&l| l != crate::cli::RUNS_DEFAULT_LIMIT) {
            let _ = write!(next, " -n {limit}");
        }
        let _ = writeln!(
            out,
            "{}",
            style.paint.paint(Color::Dim, &format!("next page: {next}"))
        );
    }
    out
}

/// `stk monthly`.
pub fn monthly(totals: &MonthlyTotals, style: &Style) -> String {
    if totals.months.is_empty() {
        return format!("{NO_RUNS}\n");
    }
    let mut table = Table::new(vec![
        Column::left("MONTH"),
        Column::right("RUNS"),
        Column::right("TOTAL"),
        Column::right("AVERAGE").optional(1),
        Column::right("TIME").optional(0),
        Column::right("PACE").optional(2),
    ]);
    for month in &totals.months {
        table.row(month_row(month, style));
    }
    table.render(style.width, style.paint)
}

fn month_row(month: &MonthTotal, style: &Style) -> Vec<String> {
    vec![
        clean(&month.month).into_owned(),
        thousands(month.runs),
        style.distance(month.distance_km),
        style.distance(month.average_distance_km),
        hours_minutes(month.duration_s),
        pace(month.average_pace_s_per_km, style.units),
    ]
}

/// `stk records`.
pub fn records(records: &Records, style: &Style) -> String {
    let units = style.units;
    let fastest_label = format!(
        "fastest pace ({}+)",
        distance_short(records.fastest_pace_min_distance_km, units)
    );
    let fastest = records.fastest_pace.as_ref().map_or_else(
        || UNKNOWN.to_owned(),
        |run| {
            format!(
                "{} on {} {} ({} in {})",
                pace(run.pace_s_per_km, units),
                weekday(run.date),
                run.date,
                style.distance(run.distance_km),
                duration(run.duration_s)
            )
        },
    );
    let best_month = records.best_month.as_ref().map_or_else(
        || UNKNOWN.to_owned(),
        |m| {
            format!(
                "{}: {} in {} ({})",
                clean(&m.month),
                style.distance(m.distance_km),
                plural(m.runs, "run", "runs"),
                pace(m.average_pace_s_per_km, units)
            )
        },
    );
    let best_week = records.best_week.as_ref().map_or_else(
        || UNKNOWN.to_owned(),
        |w| {
            format!(
                "week of Mon {}: {} in {}",
                w.week_start,
                style.distance(w.distance_km),
                plural(w.runs, "run", "runs")
            )
        },
    );
    block(&[
        row(
            "longest run",
            records
                .longest_run
                .as_ref()
                .map_or_else(|| UNKNOWN.to_owned(), |r| run_line(r, style)),
        ),
        (fastest_label, fastest),
        row("best month", best_month),
        row("best week", best_week),
    ])
}

/// Where the units in use came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitsSource {
    /// `--units` or `STK_UNITS`.
    Flag,
    /// `units` in `config.json`.
    ConfigFile,
    Default,
}

impl UnitsSource {
    /// For `stk config show --json`.
    pub fn code(self) -> &'static str {
        match self {
            Self::Flag => "option",
            Self::ConfigFile => "config_file",
            Self::Default => "default",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Self::Flag => "from --units or STK_UNITS",
            Self::ConfigFile => "from config.json",
            Self::Default => "default",
        }
    }
}

/// What `stk config show` shows besides the server's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalConfig {
    pub units: Units,
    pub units_source: UnitsSource,
    pub api_url: String,
    /// Where the API key comes from (never the key).
    pub api_key_source: String,
}

/// The streak minimum in words: `1.00 mi / 1.61 km a day`, or that any run counts.
pub fn minimum(km: f64, style: &Style) -> String {
    if km > 0.0 {
        format!("{} a day", style.both_distances(km))
    } else {
        "none: any run counts".to_owned()
    }
}

/// The time zone in words.
pub fn zone(settings: &Settings) -> String {
    match &settings.time_zone {
        Some(zone) => clean(zone).into_owned(),
        None => "not set: streak days follow UTC".to_owned(),
    }
}

/// `stk config show`.
pub fn config(settings: &Settings, local: &LocalConfig, style: &Style) -> String {
    block(&[
        row("time zone", zone(settings)),
        row(
            "streak minimum",
            minimum(settings.min_streak_distance_km, style),
        ),
        row(
            "units",
            format!("{} ({})", local.units, local.units_source.describe()),
        ),
        row("API URL", clean(&local.api_url).into_owned()),
        row("API key", local.api_key_source.clone()),
    ])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::format::KM_PER_MILE;
    use stk_protocol::WeekTotal;

    fn date(s: &str) -> IsoDate {
        s.parse().unwrap()
    }

    fn style(width: usize) -> Style {
        Style::plain(Units::Mi, width)
    }

    fn summary(days: u32) -> StreakSummary {
        let current = CurrentStreak {
            start: date("2014-08-24"),
            end: date("2026-02-28"),
            days,
            runs: u64::from(days) + 1,
            distance_km: 44_838.0,
            today_done: false,
            days_to_record: 0,
            distance_due_today_km: KM_PER_MILE,
        };
        StreakSummary {
            today: date("2026-03-01"),
            time_zone: "Europe/Paris".into(),
            time_zone_set: true,
            min_streak_distance_km: KM_PER_MILE,
            longest: Some(Streak {
                start: current.start,
                end: current.end,
                days,
                runs: current.runs,
                distance_km: current.distance_km,
            }),
            top: vec![Streak {
                start: current.start,
                end: current.end,
                days,
                runs: current.runs,
                distance_km: current.distance_km,
            }],
            current: Some(current),
            run_count: 4812,
        }
    }

    #[test]
    fn weekdays() {
        assert_eq!(weekday(date("2026-03-01")), "Sun");
        assert_eq!(weekday(date("2014-08-24")), "Sun");
        assert_eq!(weekday(date("2024-02-29")), "Thu");
    }

    #[test]
    fn the_panel_says_the_streak_the_tier_and_what_is_due() {
        let text = streak(&summary(4330), None, &style(100));
        for expected in [
            "4,330-day streak",
            "since Sun 2014-08-24: 4,331 runs, 27,861.0 mi",
            "365+ days: legendary",
            "today: run still due (1.00 mi / 1.61 km to go)",
            "NEW RECORD!",
            "today is Sun 2026-03-01 in Europe/Paris; a day counts from 1.00 mi",
            "current",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
        assert!(text.contains("( (  ( ( ("), "the legendary flames\n{text}");
        assert!(!text.contains("hint:"), "{text}");
        // The box is rectangular.
        let boxed: Vec<usize> = text
            .lines()
            .take_while(|l| !l.starts_with("today is"))
            .map(text_width)
            .collect();
        assert!(boxed.windows(2).all(|w| w[0] == w[1]), "{text}");
    }

    #[test]
    fn record_or_days_to_record() {
        let mut s = summary(30);
        let current = s.current.as_mut().unwrap();
        current.today_done = true;
        current.days_to_record = 12;
        s.longest.as_mut().unwrap().days = 42;
        let text = streak(&s, None, &style(100));
        assert!(text.contains("today: done"), "{text}");
        assert!(
            text.contains("12 days to record (longest: 42 days)"),
            "{text}"
        );
        assert!(!text.contains("NEW RECORD"), "{text}");
        assert!(text.contains("30+ days: blazing"), "{text}");

        // A first day is no record yet.
        let mut s = summary(1);
        s.current.as_mut().unwrap().distance_due_today_km = 0.0;
        s.min_streak_distance_km = 0.0;
        let text = streak(&s, None, &style(100));
        assert!(!text.contains("NEW RECORD"), "{text}");
        assert!(text.contains("today: run still due "), "{text}");
        assert!(!text.contains("to go"), "{text}");
        assert!(text.contains("1+ day: spark"), "{text}");
        assert!(text.contains("any run counts"), "{text}");
    }

    #[test]
    fn without_a_streak_the_longest_is_shown_and_the_hint_names_the_machine_zone() {
        let mut s = summary(4330);
        s.current = None;
        s.time_zone_set = false;
        s.time_zone = "UTC".into();
        let text = streak(&s, Some("Europe/Paris"), &style(100));
        assert!(text.contains("no streak running"), "{text}");
        assert!(
            text.contains("run 1.00 mi today to start a new one"),
            "{text}"
        );
        assert!(
            text.contains("longest: 4,330 days, 2014-08-24 to 2026-02-28"),
            "{text}"
        );
        assert!(text.contains(
            "hint: your time zone is not set; streak days follow UTC. Set it with: stk config set timezone <ZONE>\n"
        ));
        assert!(
            text.contains("this machine is on Europe/Paris: stk config set timezone Europe/Paris")
        );
        assert!(!text.contains("current\n"), "{text}");

        s.run_count = 0;
        s.top.clear();
        s.longest = None;
        let text = streak(&s, None, &style(100));
        assert!(text.contains("no runs yet"), "{text}");
        assert!(!text.contains("this machine"), "{text}");
    }

    #[test]
    fn the_panel_gives_up_the_flames_then_the_box_on_narrow_terminals() {
        let s = summary(4330);
        let wide = streak(&s, None, &style(100));
        let medium = streak(&s, None, &style(60));
        let narrow = streak(&s, None, &style(40));
        assert!(wide.contains(") ) )( ) ) )"));
        assert!(!medium.contains(") ) )( ) ) )"), "{medium}");
        assert!(medium.starts_with('╭'), "{medium}");
        assert!(!narrow.contains('╭'), "{narrow}");
        assert!(narrow.starts_with("4,330-day streak\n"), "{narrow}");
        assert!(
            narrow
                .contains("today is Sun 2026-03-01 in Europe/Paris;\na day counts from 1.00 mi\n"),
            "{narrow}"
        );
    }

    fn run(day: &str, km: f64, secs: f64) -> RunSummary {
        RunSummary {
            activity_id: 1,
            date: date(day),
            start_local: format!("{day}T07:00:00"),
            distance_km: km,
            duration_s: secs,
            pace_s_per_km: Some(secs / km),
            heart_rate_avg: Some(148),
            temperature_c: Some(5.0),
            is_treadmill: Some(false),
        }
    }

    #[test]
    fn runs_paging_header_and_next_page() {
        let list = RunList {
            total: 4812,
            offset: 50,
            limit: 2,
            runs: vec![
                run("2026-02-27", 5.0, 1535.0),
                run("2026-02-26", 8.0, 2500.0),
            ],
        };
        let query = RunsQuery {
            since: None,
            until: None,
            limit: Some(2),
            offset: Some(50),
        };
        let text = runs(&list, &query, &style(100));
        assert!(text.starts_with("Showing 51-52 of 4,812 runs\n"), "{text}");
        assert!(
            text.ends_with("next page: stk runs --offset 52 -n 2\n"),
            "{text}"
        );
        assert!(
            text.contains("2026-02-27  Fri   3.11 mi  25:35  8:14 /mi  148  41°F\n"),
            "{text}"
        );

        let empty = RunList {
            total: 4812,
            offset: 5000,
            limit: 50,
            runs: vec![],
        };
        assert_eq!(
            runs(&empty, &RunsQuery::default(), &style(100)),
            "no runs at offset 5,000: there are 4,812 runs\n"
        );
        let none = RunList { total: 0, ..empty };
        let query = RunsQuery {
            since: Some(date("2030-01-01")),
            ..RunsQuery::default()
        };
        assert_eq!(
            runs(&none, &query, &style(100)),
            "no runs since 2030-01-01\n"
        );
    }

    #[test]
    fn run_tables_show_units_and_markers() {
        let mut treadmill = run("2026-02-28", 10.0, 3000.0);
        treadmill.is_treadmill = Some(true);
        treadmill.heart_rate_avg = None;
        treadmill.temperature_c = None;
        let text = run_table(&[treadmill], &Style::plain(Units::Km, 100));
        assert_eq!(
            text,
            "DATE        DAY  DISTANCE   TIME      PACE  HR  TEMP  TREADMILL\n\
             2026-02-28  Sat  10.00 km  50:00  5:00 /km   —     —  yes\n"
        );
    }

    #[test]
    fn stats_records_and_monthly() {
        let longest = run("2019-10-13", 42.195, 13_267.0);
        let s = Stats {
            runs: 4812,
            days_run: 4401,
            distance_km: 47_334.8,
            duration_s: 15_318_000.0,
            average_distance_km: Some(9.837),
            average_pace_s_per_km: Some(323.6),
            longest_run: Some(longest.clone()),
            first_run: Some(date("2012-03-04")),
            last_run: Some(date("2026-03-01")),
        };
        let text = stats(&s, &style(100));
        assert!(text.starts_with("runs              4,812\n"), "{text}");
        assert!(text.contains("distance          29,412.5 mi\n"), "{text}");
        assert!(
            text.contains("longest run       26.22 mi on Sun 2019-10-13 (3:41:07, 8:26 /mi)\n"),
            "{text}"
        );
        assert!(text.contains("total time        4,255 h 00 m\n"), "{text}");
        assert_eq!(
            stats(&Stats { runs: 0, ..s }, &style(100)),
            format!("{NO_RUNS}\n")
        );

        let r = Records {
            longest_run: Some(longest),
            fastest_pace: Some(run("2016-05-01", 5.0, 1160.0)),
            fastest_pace_min_distance_km: 3.0 * KM_PER_MILE,
            best_month: Some(MonthTotal {
                month: "2015-07".into(),
                runs: 31,
                distance_km: 663.5,
                duration_s: 210_000.0,
                average_distance_km: 21.4,
                average_pace_s_per_km: Some(316.5),
            }),
            best_week: Some(WeekTotal {
                week_start: date("2015-07-13"),
                runs: 9,
                distance_km: 180.9,
            }),
        };
        let text = records(&r, &style(100));
        assert!(
            text.contains(
                "fastest pace (3.0 mi+)  6:13 /mi on Sun 2016-05-01 (3.11 mi in 19:20)\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("best month              2015-07: 412.28 mi in 31 runs (8:29 /mi)\n"),
            "{text}"
        );
        assert!(
            text.contains("best week               week of Mon 2015-07-13: 112.41 mi in 9 runs\n"),
            "{text}"
        );
        let none = Records {
            longest_run: None,
            fastest_pace: None,
            fastest_pace_min_distance_km: 5.0,
            best_month: None,
            best_week: None,
        };
        let text = records(&none, &Style::plain(Units::Km, 80));
        assert!(text.contains("fastest pace (5.0 km+)  —\n"), "{text}");

        let totals = MonthlyTotals {
            months: vec![MonthTotal {
                month: "2026-02".into(),
                runs: 28,
                distance_km: 280.0,
                duration_s: 90_000.0,
                average_distance_km: 10.0,
                average_pace_s_per_km: Some(321.4),
            }],
        };
        assert_eq!(
            monthly(&totals, &Style::plain(Units::Km, 80)),
            "MONTH    RUNS      TOTAL   AVERAGE       TIME      PACE\n\
             2026-02    28  280.00 km  10.00 km  25 h 00 m  5:21 /km\n"
        );
        let narrow = monthly(&totals, &Style::plain(Units::Km, 30));
        assert!(narrow.starts_with("MONTH    RUNS      TOTAL\n"), "{narrow}");
    }

    #[test]
    fn config_block_never_needs_the_key() {
        let local = LocalConfig {
            units: Units::Km,
            units_source: UnitsSource::ConfigFile,
            api_url: "https://api.example.com/prod".into(),
            api_key_source: "STK_API_KEY".into(),
        };
        let settings = Settings {
            time_zone: None,
            min_streak_distance_km: 0.0,
        };
        assert_eq!(
            config(&settings, &local, &Style::plain(Units::Km, 80)),
            "time zone       not set: streak days follow UTC\n\
             streak minimum  none: any run counts\n\
             units           km (from config.json)\n\
             API URL         https://api.example.com/prod\n\
             API key         STK_API_KEY\n"
        );
    }
}
