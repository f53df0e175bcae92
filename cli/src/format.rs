//! Runners' number formats: distances, durations, paces and temperatures in the chosen units,
//! and the distance parser behind `stk config set min-distance`. Pure functions, unit-tested.
//!
//! The API speaks kilometres, seconds and seconds per kilometre; conversion happens only here.

use std::fmt;
use std::str::FromStr;

/// Kilometres in one international mile.
pub const KM_PER_MILE: f64 = 1.609_344;

/// What unknown values are shown as.
pub const UNKNOWN: &str = "—";

/// The units distances and paces are shown in. Miles by default, as the original `stk` did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Units {
    #[default]
    #[value(name = "mi", alias = "mile", alias = "miles")]
    Mi,
    #[value(
        name = "km",
        alias = "kilometer",
        alias = "kilometers",
        alias = "kilometre",
        alias = "kilometres"
    )]
    Km,
}

impl Units {
    /// `mi` or `km`, as shown after numbers and stored in `config.json`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Mi => "mi",
            Self::Km => "km",
        }
    }

    /// The other one (for "1.00 mi / 1.61 km").
    pub fn other(self) -> Self {
        match self {
            Self::Mi => Self::Km,
            Self::Km => Self::Mi,
        }
    }

    /// Kilometres in one of these units.
    pub fn km_per_unit(self) -> f64 {
        match self {
            Self::Mi => KM_PER_MILE,
            Self::Km => 1.0,
        }
    }

    /// A distance in kilometres, in these units.
    pub fn from_km(self, km: f64) -> f64 {
        km / self.km_per_unit()
    }

    /// A distance in these units, in kilometres.
    pub fn to_km(self, value: f64) -> f64 {
        value * self.km_per_unit()
    }
}

impl fmt::Display for Units {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl FromStr for Units {
    type Err = String;

    /// The names `--units` accepts (case-insensitive), for the value kept in `config.json`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        <Self as clap::ValueEnum>::from_str(s.trim(), true)
            .map_err(|_| format!("unknown units `{}`: expected mi or km", s.trim()))
    }
}

/// `4812` -> `4,812`.
pub fn thousands(n: u64) -> String {
    group(&n.to_string())
}

/// Commas every three digits of a run of ASCII digits.
fn group(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `value` rounded to `decimals` places (half away from zero), with thousands separators.
/// Never `-0.00`; `—` when not a number.
pub fn fixed(value: f64, decimals: u32) -> String {
    if !value.is_finite() {
        return UNKNOWN.into();
    }
    let scale = 10f64.powi(decimals as i32);
    let scaled = (value * scale).round();
    if scaled.abs() >= 1e18 {
        return format!("{value:.0}");
    }
    // In range: exact integer arithmetic from here on.
    let scaled = scaled as i64;
    let sign = if scaled < 0 { "-" } else { "" };
    let magnitude = scaled.unsigned_abs();
    let unit = 10u64.pow(decimals);
    let whole = group(&(magnitude / unit).to_string());
    if decimals == 0 {
        format!("{sign}{whole}")
    } else {
        let width = decimals as usize;
        format!("{sign}{whole}.{:0width$}", magnitude % unit)
    }
}

/// A distance given in km, shown in `units`: `3.11 mi`, `5.00 km`; from 1,000 on, one decimal
/// and separators (`29,412.5 mi`).
pub fn distance(km: f64, units: Units) -> String {
    if !km.is_finite() {
        return UNKNOWN.into();
    }
    let value = units.from_km(km);
    let decimals = if (value.abs() * 100.0).round() >= 100_000.0 {
        1
    } else {
        2
    };
    format!("{} {}", fixed(value, decimals), units.label())
}

/// A distance with one decimal (`3.0 mi`), for thresholds such as the fastest pace's minimum.
pub fn distance_short(km: f64, units: Units) -> String {
    format!("{} {}", fixed(units.from_km(km), 1), units.label())
}

/// Whole seconds, rounded half up; `None` for negative or non-finite values.
fn whole_seconds(seconds: f64) -> Option<u64> {
    (seconds.is_finite() && seconds >= 0.0).then(|| seconds.round() as u64)
}

/// `H:MM:SS` from an hour on, else `MM:SS`: `24:35`, `1:02:03`, `00:42`.
pub fn duration(seconds: f64) -> String {
    let Some(total) = whole_seconds(seconds) else {
        return UNKNOWN.into();
    };
    clock(total)
}

fn clock(total: u64) -> String {
    let (h, m, s) = (total / 3600, total % 3600 / 60, total % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m:02}:{s:02}")
    }
}

/// Long totals: `4,255 h 07 m` from an hour on (to the minute), else like [`duration`].
pub fn total_duration(seconds: f64) -> String {
    let Some(total) = whole_seconds(seconds) else {
        return UNKNOWN.into();
    };
    if total < 3600 {
        return clock(total);
    }
    let minutes = (total + 30) / 60;
    format!("{} h {:02} m", thousands(minutes / 60), minutes % 60)
}

/// Hours and minutes, rounded to the minute, for columns of totals: `21 h 07 m`, `0 h 26 m`.
pub fn hours_minutes(seconds: f64) -> String {
    let Some(total) = whole_seconds(seconds) else {
        return UNKNOWN.into();
    };
    let minutes = (total + 30) / 60;
    format!("{} h {:02} m", thousands(minutes / 60), minutes % 60)
}

/// A pace given in seconds per km, per `units`: `8:14 /mi`, `5:07 /km`; `—` when unknown.
pub fn pace(seconds_per_km: Option<f64>, units: Units) -> String {
    let per_unit = seconds_per_km
        .filter(|p| p.is_finite() && *p > 0.0)
        .and_then(|p| whole_seconds(p * units.km_per_unit()));
    match per_unit {
        Some(total) if total >= 3600 => format!("{} /{}", clock(total), units.label()),
        Some(total) => format!("{}:{:02} /{}", total / 60, total % 60, units.label()),
        None => UNKNOWN.into(),
    }
}

/// `72°F` with miles, `22°C` with kilometres; `—` when unknown.
pub fn temperature(celsius: Option<f64>, units: Units) -> String {
    match celsius.filter(|c| c.is_finite()) {
        Some(c) => match units {
            Units::Mi => format!("{}°F", fixed(c * 9.0 / 5.0 + 32.0, 0)),
            Units::Km => format!("{}°C", fixed(c, 0)),
        },
        None => UNKNOWN.into(),
    }
}

/// A distance typed on the command line: `1mi`, `1.6km`, `1609m`, `1 mile`, or a bare number in
/// `bare_units`. Returns kilometres. Negative, non-numeric and unknown units are refused.
pub fn parse_distance(text: &str, bare_units: Units) -> Result<f64, String> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| c.is_alphabetic())
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let number = number.trim();
    let unit = unit.trim().to_ascii_lowercase();
    let help = "expected a distance such as 1mi, 1.6km, 1609m or a bare number";
    if number.is_empty() {
        return Err(format!("`{text}` has no number: {help}"));
    }
    let value: f64 = number
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| format!("`{number}` is not a number: {help}"))?;
    if value < 0.0 {
        return Err(format!("`{text}` is negative: use 0 to count any run"));
    }
    let km_per_unit = match unit.as_str() {
        "" => bare_units.km_per_unit(),
        "mi" | "mile" | "miles" => KM_PER_MILE,
        "km" | "k" | "kms" | "kilometer" | "kilometers" | "kilometre" | "kilometres" => 1.0,
        "m" | "meter" | "meters" | "metre" | "metres" => 0.001,
        other => return Err(format!("unknown unit `{other}`: use mi, km or m")),
    };
    Ok(value * km_per_unit)
}

/// The streak tiers, from the first day to a year and beyond.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tier {
    None,
    Spark,
    OnFire,
    Blazing,
    Inferno,
    Legendary,
}

impl Tier {
    /// The tier a streak of `days` days has reached.
    pub fn of(days: u32) -> Self {
        match days {
            0 => Self::None,
            1..=6 => Self::Spark,
            7..=29 => Self::OnFire,
            30..=99 => Self::Blazing,
            100..=364 => Self::Inferno,
            _ => Self::Legendary,
        }
    }

    /// First day of the tier.
    pub fn threshold(self) -> u32 {
        match self {
            Self::None => 0,
            Self::Spark => 1,
            Self::OnFire => 7,
            Self::Blazing => 30,
            Self::Inferno => 100,
            Self::Legendary => 365,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::None => "no streak",
            Self::Spark => "spark",
            Self::OnFire => "on fire",
            Self::Blazing => "blazing",
            Self::Inferno => "inferno",
            Self::Legendary => "legendary",
        }
    }

    /// `365+ days: legendary`.
    pub fn label(self) -> String {
        match self {
            Self::None => self.name().into(),
            Self::Spark => format!("{}+ day: {}", self.threshold(), self.name()),
            _ => format!("{}+ days: {}", self.threshold(), self.name()),
        }
    }

    /// ASCII flames, bigger with each tier. Lines have equal width.
    pub fn art(self) -> &'static [&'static str] {
        match self {
            Self::None => &[],
            Self::Spark => &["   .   ", "  ( )  ", "  '-'  "],
            Self::OnFire => &["    )   ", "   ( )  ", "  (   ) ", "   '-'  "],
            Self::Blazing => &[
                "    (     ",
                "   ) )    ",
                "  ( ( (   ",
                "  ) ) ) ) ",
                "  '----'  ",
            ],
            Self::Inferno => &[
                "    (  )    ",
                "   ) )( (   ",
                "  ( (  ) )  ",
                " ) ) )( ( ( ",
                "  '------'  ",
            ],
            Self::Legendary => &[
                "   (  ) (    ",
                "  ) )( ) )   ",
                " ( (  ( ( (  ",
                ") ) )( ) ) ) ",
                " ( (  ) ( (  ",
                "  '------'   ",
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn fixed_rounds_groups_and_never_shows_minus_zero() {
        assert_eq!(fixed(0.0, 2), "0.00");
        assert_eq!(fixed(-0.0, 2), "0.00");
        assert_eq!(fixed(-0.001, 2), "0.00");
        assert_eq!(fixed(1234.5, 1), "1,234.5");
        assert_eq!(fixed(1_234_567.891, 2), "1,234,567.89");
        assert_eq!(fixed(0.125, 2), "0.13");
        assert_eq!(fixed(9.996, 2), "10.00");
        assert_eq!(fixed(-3.5, 0), "-4");
        assert_eq!(fixed(f64::NAN, 2), UNKNOWN);
    }

    #[test]
    fn distances_in_both_units() {
        assert_eq!(distance(0.0, Units::Mi), "0.00 mi");
        assert_eq!(distance(5.0, Units::Km), "5.00 km");
        assert_eq!(distance(5.0, Units::Mi), "3.11 mi");
        assert_eq!(distance(KM_PER_MILE, Units::Mi), "1.00 mi");
        assert_eq!(distance(KM_PER_MILE, Units::Km), "1.61 km");
        assert_eq!(distance(42.195, Units::Mi), "26.22 mi");
        // Totals from 1,000 on: separators and one decimal.
        assert_eq!(distance(29_412.5 * KM_PER_MILE, Units::Mi), "29,412.5 mi");
        assert_eq!(distance(999.99, Units::Km), "999.99 km");
        assert_eq!(distance(999.996, Units::Km), "1,000.0 km");
        assert_eq!(distance(f64::INFINITY, Units::Km), UNKNOWN);
        assert_eq!(distance_short(4.828_032, Units::Mi), "3.0 mi");
        assert_eq!(distance_short(5.0, Units::Km), "5.0 km");
    }

    #[test]
    fn unit_conversion_round_trips() {
        assert!((Units::Mi.from_km(KM_PER_MILE) - 1.0).abs() < 1e-12);
        assert!((Units::Mi.to_km(1.0) - 1.609_344).abs() < 1e-12);
        assert_eq!(Units::Km.from_km(5.0), 5.0);
        for km in [0.0, 1.0, 5.0, 42.195, 20_000.0] {
            let back = Units::Mi.to_km(Units::Mi.from_km(km));
            assert!((back - km).abs() < 1e-9, "{km}");
        }
        assert_eq!(Units::Mi.other(), Units::Km);
        assert_eq!("KM".parse::<Units>().unwrap(), Units::Km);
        assert_eq!(" miles ".parse::<Units>().unwrap(), Units::Mi);
        assert!("furlongs".parse::<Units>().is_err());
        assert_eq!(Units::default(), Units::Mi);
    }

    #[test]
    fn durations_are_clock_times() {
        assert_eq!(duration(0.0), "00:00");
        assert_eq!(duration(42.0), "00:42");
        assert_eq!(duration(59.4), "00:59");
        // Rounded to the second first: 59.5 s is a minute.
        assert_eq!(duration(59.5), "01:00");
        assert_eq!(duration(1475.0), "24:35");
        assert_eq!(duration(3599.5), "1:00:00");
        assert_eq!(duration(3723.0), "1:02:03");
        assert_eq!(duration(10.0 * 3600.0 + 61.0), "10:01:01");
        assert_eq!(duration(100.0 * 3600.0), "100:00:00");
        assert_eq!(duration(-1.0), UNKNOWN);
        assert_eq!(duration(f64::NAN), UNKNOWN);
    }

    #[test]
    fn long_totals_read_in_hours() {
        assert_eq!(total_duration(0.0), "00:00");
        assert_eq!(total_duration(2712.0), "45:12");
        assert_eq!(total_duration(3600.0), "1 h 00 m");
        assert_eq!(total_duration(3600.0 + 5.0 * 60.0 + 29.0), "1 h 05 m");
        assert_eq!(total_duration(3600.0 + 5.0 * 60.0 + 30.0), "1 h 06 m");
        assert_eq!(total_duration(1234.0 * 3600.0 + 300.0), "1,234 h 05 m");
    }

    #[test]
    fn hours_and_minutes_for_columns() {
        assert_eq!(hours_minutes(0.0), "0 h 00 m");
        assert_eq!(hours_minutes(29.0), "0 h 00 m");
        assert_eq!(hours_minutes(30.0), "0 h 01 m");
        assert_eq!(hours_minutes(1573.0), "0 h 26 m");
        assert_eq!(hours_minutes(76_020.0), "21 h 07 m");
        assert_eq!(hours_minutes(3_600_000.0), "1,000 h 00 m");
        assert_eq!(hours_minutes(-5.0), UNKNOWN);
    }

    #[test]
    fn paces_per_unit() {
        // 5:07 /km is 8:14 /mi.
        assert_eq!(pace(Some(307.0), Units::Km), "5:07 /km");
        assert_eq!(pace(Some(307.0), Units::Mi), "8:14 /mi");
        assert_eq!(pace(Some(59.5), Units::Km), "1:00 /km");
        assert_eq!(pace(Some(59.4), Units::Km), "0:59 /km");
        assert_eq!(pace(Some(3723.0), Units::Km), "1:02:03 /km");
        assert_eq!(pace(None, Units::Mi), UNKNOWN);
        assert_eq!(pace(Some(0.0), Units::Mi), UNKNOWN);
        assert_eq!(pace(Some(f64::INFINITY), Units::Mi), UNKNOWN);
    }

    #[test]
    fn temperatures_follow_the_units() {
        assert_eq!(temperature(Some(22.0), Units::Mi), "72°F");
        assert_eq!(temperature(Some(22.0), Units::Km), "22°C");
        assert_eq!(temperature(Some(-40.0), Units::Mi), "-40°F");
        assert_eq!(temperature(Some(-0.2), Units::Km), "0°C");
        assert_eq!(temperature(None, Units::Km), UNKNOWN);
    }

    #[test]
    fn distances_typed_by_the_runner() {
        let km = |text: &str, units| parse_distance(text, units).unwrap();
        assert!((km("1mi", Units::Km) - KM_PER_MILE).abs() < 1e-12);
        assert!((km("1 Mile", Units::Km) - KM_PER_MILE).abs() < 1e-12);
        assert!((km("1.6km", Units::Mi) - 1.6).abs() < 1e-12);
        assert!((km("1609m", Units::Mi) - 1.609).abs() < 1e-12);
        assert!((km("2", Units::Mi) - 2.0 * KM_PER_MILE).abs() < 1e-12);
        assert!((km("2", Units::Km) - 2.0).abs() < 1e-12);
        assert!((km(" 3.5 k ", Units::Mi) - 3.5).abs() < 1e-12);
        assert_eq!(km("0", Units::Mi), 0.0);
        for bad in [
            "",
            "mi",
            "-1mi",
            "1..2km",
            "1,6km",
            "1 furlong",
            "inf",
            "NaN",
            "1e3km",
            "x1",
        ] {
            assert!(parse_distance(bad, Units::Mi).is_err(), "{bad:?}");
        }
        assert!(
            parse_distance("-1", Units::Mi)
                .unwrap_err()
                .contains("negative")
        );
        assert!(
            parse_distance("1 furlong", Units::Mi)
                .unwrap_err()
                .contains("unknown unit `furlong`")
        );
    }

    #[test]
    fn tiers_change_on_their_first_day() {
        let cases = [
            (0, Tier::None),
            (1, Tier::Spark),
            (6, Tier::Spark),
            (7, Tier::OnFire),
            (29, Tier::OnFire),
            (30, Tier::Blazing),
            (99, Tier::Blazing),
            (100, Tier::Inferno),
            (364, Tier::Inferno),
            (365, Tier::Legendary),
            (5000, Tier::Legendary),
            (u32::MAX, Tier::Legendary),
        ];
        for (days, tier) in cases {
            assert_eq!(Tier::of(days), tier, "{days} days");
            assert!(tier.threshold() <= days);
        }
        assert_eq!(Tier::of(365).label(), "365+ days: legendary");
        assert_eq!(Tier::of(1).label(), "1+ day: spark");
        assert_eq!(Tier::of(0).label(), "no streak");
    }

    #[test]
    fn flames_grow_with_the_tier_and_are_rectangular() {
        let tiers = [
            Tier::None,
            Tier::Spark,
            Tier::OnFire,
            Tier::Blazing,
            Tier::Inferno,
            Tier::Legendary,
        ];
        for pair in tiers.windows(2) {
            assert!(pair[0].art().len() <= pair[1].art().len(), "{pair:?}");
        }
        for tier in tiers {
            let art = tier.art();
            assert!(art.iter().all(|line| line.is_ascii()));
            assert!(art.windows(2).all(|w| w[0].len() == w[1].len()), "{tier:?}");
        }
    }
}
