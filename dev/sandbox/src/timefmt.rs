//! The date formats SmashRun uses, parsed leniently and written exactly.
//!
//! - `startDateTimeLocal`: `YYYY-MM-DDTHH:MM:00±HH:MM` (local wall time with its UTC offset; older captures have no
//!   offset).
//! - `dateCreatedUTC` / `dateUpdatedUTC`: `YYYY-MM-DDTHH:MM:SS[.f{1,3}]`, UTC with no `Z`, trailing zeros of the
//!   fraction trimmed (SQL Server `datetime`, so milliseconds end in 0, 3 or 7).
//! - `syncDateTimeUTC`: `YYYY-MM-DDTHH:MM:00`, UTC with no `Z` (SQL Server `smalldatetime`).

use std::fmt::Write as _;

use time::{Date, Duration, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// A date-time as written in an activity: wall time plus the offset if one was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ParsedDateTime {
    pub(crate) wall: PrimitiveDateTime,
    pub(crate) offset: Option<UtcOffset>,
}

impl ParsedDateTime {
    /// The instant in UTC; a value without offset is taken as UTC already.
    pub(crate) fn to_utc(self) -> PrimitiveDateTime {
        match self.offset {
            Some(offset) => self
                .wall
                .assume_offset(offset)
                .to_offset(UtcOffset::UTC)
                .date_time_at_utc(),
            None => self.wall,
        }
    }
}

trait DateTimeAtUtc {
    fn date_time_at_utc(self) -> PrimitiveDateTime;
}

impl DateTimeAtUtc for OffsetDateTime {
    fn date_time_at_utc(self) -> PrimitiveDateTime {
        PrimitiveDateTime::new(self.date(), self.time())
    }
}

/// Converts an instant to a UTC wall time (no offset attached).
pub(crate) fn to_utc_wall(instant: OffsetDateTime) -> PrimitiveDateTime {
    instant.to_offset(UtcOffset::UTC).date_time_at_utc()
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, n: usize) -> Option<u32> {
        let slice = self.bytes.get(self.pos..self.pos + n)?;
        let mut value = 0u32;
        for b in slice {
            if !b.is_ascii_digit() {
                return None;
            }
            value = value * 10 + u32::from(b - b'0');
        }
        self.pos += n;
        Some(value)
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn eat(&mut self, expected: u8) -> bool {
        if self.peek() == Some(expected) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn done(&self) -> bool {
        self.pos == self.bytes.len()
    }
}

/// Parses `YYYY-MM-DD[T| ]HH:MM[:SS[.fraction]][Z|±HH:MM|±HHMM|±HH]`. Fractions of any length are accepted (digits
/// past the ninth are ignored).
pub(crate) fn parse_datetime(text: &str) -> Option<ParsedDateTime> {
    let mut c = Cursor {
        bytes: text.trim().as_bytes(),
        pos: 0,
    };
    let year = c.digits(4)?;
    if !c.eat(b'-') {
        return None;
    }
    let month = c.digits(2)?;
    if !c.eat(b'-') {
        return None;
    }
    let day = c.digits(2)?;
    let date = Date::from_calendar_date(
        i32::try_from(year).ok()?,
        Month::try_from(u8::try_from(month).ok()?).ok()?,
        u8::try_from(day).ok()?,
    )
    .ok()?;
    if !(c.eat(b'T') || c.eat(b't') || c.eat(b' ')) {
        return None;
    }
    let hour = c.digits(2)?;
    if !c.eat(b':') {
        return None;
    }
    let minute = c.digits(2)?;
    let mut second = 0;
    let mut nanos = 0u32;
    if c.eat(b':') {
        second = c.digits(2)?;
        if c.eat(b'.') || c.eat(b',') {
            let mut count = 0;
            while let Some(b) = c.peek().filter(u8::is_ascii_digit) {
                if count < 9 {
                    nanos = nanos * 10 + u32::from(b - b'0');
                }
                count += 1;
                c.pos += 1;
            }
            if count == 0 {
                return None;
            }
            for _ in count..9 {
                nanos *= 10;
            }
        }
    }
    let time = Time::from_hms_nano(
        u8::try_from(hour).ok()?,
        u8::try_from(minute).ok()?,
        u8::try_from(second).ok()?,
        nanos,
    )
    .ok()?;
    let offset = match c.peek() {
        None => None,
        Some(b'Z' | b'z') => {
            c.pos += 1;
            Some(UtcOffset::UTC)
        }
        Some(sign @ (b'+' | b'-')) => {
            c.pos += 1;
            let hours = c.digits(2)?;
            let minutes = if c.eat(b':') {
                c.digits(2)?
            } else {
                c.digits(2).unwrap_or(0)
            };
            let total = i32::try_from(hours * 3600 + minutes * 60).ok()?;
            Some(UtcOffset::from_whole_seconds(if sign == b'-' { -total } else { total }).ok()?)
        }
        Some(_) => return None,
    };
    if !c.done() {
        return None;
    }
    Some(ParsedDateTime {
        wall: PrimitiveDateTime::new(date, time),
        offset,
    })
}

/// Parses `YYYY-MM-DD`.
pub(crate) fn parse_date(text: &str) -> Option<Date> {
    let mut c = Cursor {
        bytes: text.trim().as_bytes(),
        pos: 0,
    };
    let year = c.digits(4)?;
    let ok = c.eat(b'-');
    let month = c.digits(2)?;
    let ok = ok && c.eat(b'-');
    let day = c.digits(2)?;
    if !ok || !c.done() {
        return None;
    }
    Date::from_calendar_date(
        i32::try_from(year).ok()?,
        Month::try_from(u8::try_from(month).ok()?).ok()?,
        u8::try_from(day).ok()?,
    )
    .ok()
}

fn push_date(out: &mut String, date: Date) {
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    );
}

fn push_hms(out: &mut String, time: Time) {
    let _ = write!(
        out,
        "{:02}:{:02}:{:02}",
        time.hour(),
        time.minute(),
        time.second()
    );
}

/// `YYYY-MM-DD`.
pub(crate) fn format_date(date: Date) -> String {
    let mut out = String::with_capacity(10);
    push_date(&mut out, date);
    out
}

/// `YYYY-MM-DDT00:00:00` (the form SmashRun uses for dates inside stats).
pub(crate) fn format_date_midnight(date: Date) -> String {
    let mut out = format_date(date);
    out.push_str("T00:00:00");
    out
}

/// `YYYY-MM-DDTHH:MM:SS±HH:MM`.
pub(crate) fn format_local(wall: PrimitiveDateTime, offset: UtcOffset) -> String {
    let mut out = String::with_capacity(25);
    push_date(&mut out, wall.date());
    out.push('T');
    push_hms(&mut out, wall.time());
    let seconds = offset.whole_seconds();
    let sign = if seconds < 0 { '-' } else { '+' };
    let abs = seconds.unsigned_abs();
    let _ = write!(out, "{sign}{:02}:{:02}", abs / 3600, abs % 3600 / 60);
    out
}

/// `YYYY-MM-DDTHH:MM:SS` (no `Z`): `syncDateTimeUTC`, `dateTimeUTCOfLastRun`.
pub(crate) fn format_utc_seconds(wall: PrimitiveDateTime) -> String {
    let mut out = String::with_capacity(19);
    push_date(&mut out, wall.date());
    out.push('T');
    push_hms(&mut out, wall.time());
    out
}

/// `YYYY-MM-DDTHH:MM:SS[.f{1,3}]` (no `Z`, milliseconds with trailing zeros trimmed): `dateCreatedUTC`,
/// `dateUpdatedUTC`.
pub(crate) fn format_utc_millis(wall: PrimitiveDateTime) -> String {
    let mut out = format_utc_seconds(wall);
    let millis = wall.millisecond();
    if millis != 0 {
        let mut fraction = format!("{millis:03}");
        while fraction.ends_with('0') {
            fraction.pop();
        }
        out.push('.');
        out.push_str(&fraction);
    }
    out
}

/// Rounds down to SQL Server `datetime` precision (1/300 s: milliseconds ending in 0, 3 or 7), as SmashRun stores
/// `dateCreatedUTC` and `dateUpdatedUTC`.
pub(crate) fn to_sql_datetime(wall: PrimitiveDateTime) -> PrimitiveDateTime {
    let ticks = wall.nanosecond() / 1_000_000 * 3 / 10;
    let millis = (ticks * 10 + 1) / 3;
    wall.replace_nanosecond(millis * 1_000_000).unwrap_or(wall)
}

/// Rounds to the nearest minute, as SQL Server `smalldatetime` does (`syncDateTimeUTC`).
pub(crate) fn to_sql_smalldatetime(wall: PrimitiveDateTime) -> PrimitiveDateTime {
    let seconds = f64::from(wall.second()) + f64::from(wall.nanosecond()) / 1e9;
    let truncated = wall
        .replace_second(0)
        .and_then(|w| w.replace_nanosecond(0))
        .unwrap_or(wall);
    if seconds >= 30.0 {
        truncated + Duration::MINUTE
    } else {
        truncated
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use time::macros::{datetime, offset};

    #[test]
    fn parses_every_smashrun_form() {
        let p = parse_datetime("2022-11-09T09:12:00-05:00").unwrap();
        assert_eq!(p.wall, datetime!(2022-11-09 09:12:00));
        assert_eq!(p.offset, Some(offset!(-05:00)));
        assert_eq!(p.to_utc(), datetime!(2022-11-09 14:12:00));

        let p = parse_datetime("2022-11-09T09:12:00").unwrap();
        assert_eq!(p.offset, None);
        assert_eq!(
            parse_datetime("2022-11-09T15:01:39.44").unwrap().wall,
            datetime!(2022-11-09 15:01:39.44)
        );
        assert_eq!(
            parse_datetime("2022-11-09T15:01:39.4").unwrap().wall,
            datetime!(2022-11-09 15:01:39.4)
        );
        assert_eq!(
            parse_datetime("2022-11-09T15:01:39").unwrap().wall,
            datetime!(2022-11-09 15:01:39)
        );
        assert_eq!(
            parse_datetime("2022-11-09T15:01:39.1234567Z")
                .unwrap()
                .offset,
            Some(UtcOffset::UTC)
        );
        assert_eq!(
            parse_datetime("2020-02-05T07:05:00+0900").unwrap().offset,
            Some(offset!(+09:00))
        );
        assert_eq!(
            parse_datetime("2020-02-05 07:05").unwrap().wall,
            datetime!(2020-02-05 07:05)
        );
        for bad in [
            "",
            "2022-11-09",
            "2022-13-01T00:00:00",
            "2022-11-09T25:00:00",
            "2022-11-09T10:00:00.",
            "x",
            "2022-11-09T10:00:00+5",
        ] {
            assert!(parse_datetime(bad).is_none(), "{bad} should not parse");
        }
    }

    #[test]
    fn writes_smashrun_forms() {
        assert_eq!(
            format_local(datetime!(2024-03-10 07:15), offset!(-04:00)),
            "2024-03-10T07:15:00-04:00"
        );
        assert_eq!(
            format_local(datetime!(2024-03-10 07:15), offset!(+09:00)),
            "2024-03-10T07:15:00+09:00"
        );
        assert_eq!(
            format_utc_millis(datetime!(2022-11-09 15:01:39.440)),
            "2022-11-09T15:01:39.44"
        );
        assert_eq!(
            format_utc_millis(datetime!(2022-11-09 15:01:39.307)),
            "2022-11-09T15:01:39.307"
        );
        assert_eq!(
            format_utc_millis(datetime!(2022-11-09 15:01:39.500)),
            "2022-11-09T15:01:39.5"
        );
        assert_eq!(
            format_utc_millis(datetime!(2022-11-09 15:01:39)),
            "2022-11-09T15:01:39"
        );
        assert_eq!(
            format_utc_seconds(datetime!(2022-11-09 15:02:00)),
            "2022-11-09T15:02:00"
        );
        assert_eq!(
            format_date_midnight(time::macros::date!(2013 - 01 - 05)),
            "2013-01-05T00:00:00"
        );
        assert_eq!(
            parse_date("2013-01-05"),
            Some(time::macros::date!(2013 - 01 - 05))
        );
        assert_eq!(parse_date("2013-1-05"), None);
    }

    #[test]
    fn sql_roundings() {
        assert_eq!(
            to_sql_datetime(datetime!(2022-01-01 00:00:00.005)).millisecond(),
            3
        );
        assert_eq!(
            to_sql_datetime(datetime!(2022-01-01 00:00:00.007)).millisecond(),
            7
        );
        assert_eq!(
            to_sql_datetime(datetime!(2022-01-01 00:00:00.999)).millisecond(),
            997
        );
        assert_eq!(
            to_sql_smalldatetime(datetime!(2022-01-01 10:00:29.9)),
            datetime!(2022-01-01 10:00)
        );
        assert_eq!(
            to_sql_smalldatetime(datetime!(2022-01-01 10:59:30)),
            datetime!(2022-01-01 11:00)
        );
    }
}
