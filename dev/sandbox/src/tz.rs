//! The few time zones the simulated runner lives and travels in, with their daylight-saving rules (including the
//! historical US and EU rules, for long generated histories).

use time::{Date, Month, PrimitiveDateTime, Time, UtcOffset, Weekday};

/// Where a run happens: the UTC offset rules and a start point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Zone {
    /// Home: US Eastern (upstate New York).
    Home,
    /// US Central (Chicago).
    Chicago,
    /// US Pacific (San Francisco).
    SanFrancisco,
    /// Central European (Paris).
    Paris,
    /// Japan (Tokyo), no daylight-saving time.
    Tokyo,
}

/// Places the runner travels to.
pub(crate) const TRIP_ZONES: &[(Zone, u32)] = &[
    (Zone::Paris, 3),
    (Zone::Tokyo, 2),
    (Zone::SanFrancisco, 3),
    (Zone::Chicago, 2),
];

impl Zone {
    /// Start point (degrees).
    pub(crate) fn center(self) -> (f64, f64) {
        match self {
            Self::Home => (43.1566, -77.6088),
            Self::Chicago => (41.8827, -87.6233),
            Self::SanFrancisco => (37.7694, -122.4862),
            Self::Paris => (48.8462, 2.3372),
            Self::Tokyo => (35.6852, 139.7528),
        }
    }

    /// Mean morning temperature (deg C) per month, January first.
    pub(crate) fn climate(self) -> [f64; 12] {
        match self {
            Self::Home => [
                -3.0, -2.0, 2.0, 8.0, 14.0, 19.0, 22.0, 21.0, 17.0, 11.0, 5.0, 0.0,
            ],
            Self::Chicago => [
                -4.0, -2.0, 3.0, 9.0, 15.0, 20.5, 23.5, 22.5, 18.5, 12.0, 5.0, -1.0,
            ],
            Self::SanFrancisco => [
                10.0, 11.0, 11.5, 12.0, 13.0, 14.0, 14.5, 15.0, 16.0, 15.0, 12.5, 10.0,
            ],
            Self::Paris => [
                4.0, 4.5, 7.5, 10.5, 14.0, 17.0, 19.5, 19.0, 16.0, 12.0, 7.5, 4.5,
            ],
            Self::Tokyo => [
                5.0, 6.0, 9.0, 14.0, 18.5, 21.5, 25.0, 26.5, 23.0, 17.5, 12.0, 7.5,
            ],
        }
    }

    /// The UTC offset in force at this local wall time. A wall time repeated when clocks go back is read as the
    /// daylight one; the skipped hour never comes up (runs never start between 02:00 and 03:00).
    pub(crate) fn offset_at(self, wall: PrimitiveDateTime) -> UtcOffset {
        let hours = |h: i8| UtcOffset::from_hms(h, 0, 0).unwrap_or(UtcOffset::UTC);
        match self {
            Self::Home => hours(if us_dst(wall) { -4 } else { -5 }),
            Self::Chicago => hours(if us_dst(wall) { -5 } else { -6 }),
            Self::SanFrancisco => hours(if us_dst(wall) { -7 } else { -8 }),
            Self::Paris => hours(if eu_dst(wall) { 2 } else { 1 }),
            Self::Tokyo => hours(9),
        }
    }
}

fn nth_sunday(year: i32, month: Month, n: u8) -> Option<Date> {
    let first = Date::from_calendar_date(year, month, 1).ok()?;
    let to_sunday = (7 - first.weekday().number_days_from_sunday()) % 7;
    first.replace_day(1 + to_sunday + 7 * (n - 1)).ok()
}

fn last_sunday(year: i32, month: Month) -> Option<Date> {
    let last = Date::from_calendar_date(year, month, month.length(year)).ok()?;
    let back = last.weekday().number_days_from_sunday();
    last.replace_day(last.day() - back).ok()
}

/// US daylight-saving periods (local dates on which clocks change at 02:00), per the laws in force each year.
fn us_dst_dates(year: i32) -> Option<(Date, Date)> {
    use Month::{April, February, January, March, November, October};
    match year {
        2007.. => Some((nth_sunday(year, March, 2)?, nth_sunday(year, November, 1)?)),
        1987..=2006 => Some((nth_sunday(year, April, 1)?, last_sunday(year, October)?)),
        1976..=1986 | 1967..=1973 => Some((last_sunday(year, April)?, last_sunday(year, October)?)),
        1975 => Some((
            Date::from_calendar_date(1975, February, 23).ok()?,
            last_sunday(year, October)?,
        )),
        1974 => Some((
            Date::from_calendar_date(1974, January, 6).ok()?,
            last_sunday(year, October)?,
        )),
        _ => None,
    }
}

fn us_dst(wall: PrimitiveDateTime) -> bool {
    let Some((start, end)) = us_dst_dates(wall.year()) else {
        return false;
    };
    let two = Time::from_hms(2, 0, 0).unwrap_or(Time::MIDNIGHT);
    wall >= start.with_time(two) && wall < end.with_time(two)
}

/// EU summer time: from the last Sunday of March 01:00 UTC to the last Sunday of October (of September before 1996)
/// 01:00 UTC; in Paris local time 02:00 standard to 03:00 summer time. Not modelled before 1981.
fn eu_dst(wall: PrimitiveDateTime) -> bool {
    let year = wall.year();
    if year < 1981 {
        return false;
    }
    let end_month = if year >= 1996 {
        Month::October
    } else {
        Month::September
    };
    let (Some(start), Some(end)) = (
        last_sunday(year, Month::March),
        last_sunday(year, end_month),
    ) else {
        return false;
    };
    let at = |h: u8| Time::from_hms(h, 0, 0).unwrap_or(Time::MIDNIGHT);
    wall >= start.with_time(at(2)) && wall < end.with_time(at(3))
}

/// Sunday check used by the generator for weekly long runs.
pub(crate) fn is_sunday(date: Date) -> bool {
    date.weekday() == Weekday::Sunday
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{datetime, offset};

    #[test]
    fn us_eastern_rules() {
        // 2024: 10 March and 3 November.
        assert_eq!(
            Zone::Home.offset_at(datetime!(2024-03-10 01:59)),
            offset!(-05:00)
        );
        assert_eq!(
            Zone::Home.offset_at(datetime!(2024-03-10 03:00)),
            offset!(-04:00)
        );
        assert_eq!(
            Zone::Home.offset_at(datetime!(2024-11-03 01:30)),
            offset!(-04:00)
        );
        assert_eq!(
            Zone::Home.offset_at(datetime!(2024-11-03 02:00)),
            offset!(-05:00)
        );
        assert_eq!(
            Zone::Home.offset_at(datetime!(2024-07-01 08:00)),
            offset!(-04:00)
        );
        assert_eq!(
            Zone::Home.offset_at(datetime!(2024-01-01 08:00)),
            offset!(-05:00)
        );
        // 2006 rules: first Sunday of April (2 April) to last Sunday of October (29 October).
        assert_eq!(
            Zone::Home.offset_at(datetime!(2006-03-20 08:00)),
            offset!(-05:00)
        );
        assert_eq!(
            Zone::Home.offset_at(datetime!(2006-04-02 08:00)),
            offset!(-04:00)
        );
        assert_eq!(
            Zone::Home.offset_at(datetime!(2006-11-01 08:00)),
            offset!(-05:00)
        );
        assert_eq!(
            Zone::Home.offset_at(datetime!(1974-02-01 08:00)),
            offset!(-04:00)
        );
        assert_eq!(
            Zone::Home.offset_at(datetime!(1966-07-01 08:00)),
            offset!(-05:00)
        );
        assert_eq!(
            Zone::SanFrancisco.offset_at(datetime!(2024-01-15 07:00)),
            offset!(-08:00)
        );
    }

    #[test]
    fn eu_and_japan() {
        // 2024: 31 March and 27 October.
        assert_eq!(
            Zone::Paris.offset_at(datetime!(2024-03-31 01:59)),
            offset!(+01:00)
        );
        assert_eq!(
            Zone::Paris.offset_at(datetime!(2024-03-31 03:00)),
            offset!(+02:00)
        );
        assert_eq!(
            Zone::Paris.offset_at(datetime!(2024-10-27 02:30)),
            offset!(+02:00)
        );
        assert_eq!(
            Zone::Paris.offset_at(datetime!(2024-10-27 03:00)),
            offset!(+01:00)
        );
        assert_eq!(
            Zone::Tokyo.offset_at(datetime!(2024-07-01 06:00)),
            offset!(+09:00)
        );
    }
}
