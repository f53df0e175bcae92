use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A calendar date written `YYYY-MM-DD`, checked to exist (no 2023-02-29, no month 13).
///
/// Kept in the protocol, without a date library, so the CLI rejects a bad `--since` before it
/// ever reaches the network and the server parses the body with the very same rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IsoDate {
    year: u16,
    month: u8,
    day: u8,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateError(String);

impl fmt::Display for DateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid date `{}`: expected an existing calendar date written YYYY-MM-DD",
            self.0
        )
    }
}

impl std::error::Error for DateError {}

impl IsoDate {
    pub fn new(year: u16, month: u8, day: u8) -> Result<Self, DateError> {
        let candidate = Self { year, month, day };
        if (1..=9999).contains(&year)
            && (1..=12).contains(&month)
            && day >= 1
            && day <= days_in_month(year, month)
        {
            Ok(candidate)
        } else {
            Err(DateError(candidate.to_string()))
        }
    }

    pub fn year(self) -> u16 {
        self.year
    }

    pub fn month(self) -> u8 {
        self.month
    }

    pub fn day(self) -> u8 {
        self.day
    }
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        _ => 31,
    }
}

impl FromStr for IsoDate {
    type Err = DateError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || DateError(s.chars().take(32).collect());
        let bytes = s.as_bytes();
        if !s.is_ascii() || bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
            return Err(err());
        }
        let digits = |range: std::ops::Range<usize>| -> Result<u16, DateError> {
            let part = &s[range];
            if part.bytes().all(|b| b.is_ascii_digit()) {
                part.parse().map_err(|_| err())
            } else {
                Err(err())
            }
        };
        let year = digits(0..4)?;
        let month = u8::try_from(digits(5..7)?).map_err(|_| err())?;
        let day = u8::try_from(digits(8..10)?).map_err(|_| err())?;
        Self::new(year, month, day).map_err(|_| err())
    }
}

impl fmt::Display for IsoDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl Serialize for IsoDate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for IsoDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        raw.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_leap_days_only_in_leap_years() {
        assert!("2024-02-29".parse::<IsoDate>().is_ok());
        assert!("2000-02-29".parse::<IsoDate>().is_ok());
        assert!("1900-02-29".parse::<IsoDate>().is_err());
        assert!("2023-02-29".parse::<IsoDate>().is_err());
    }

    #[test]
    fn rejects_malformed_text() {
        for bad in [
            "",
            "2024-1-01",
            "2024-13-01",
            "2024-00-10",
            "2024-04-31",
            "+024-01-01",
            "2024/01/01",
            "２０２４-01-01",
            "éé-01-0101",
            "0000-01-01",
            "2024-01-01T00:00",
        ] {
            assert!(bad.parse::<IsoDate>().is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn orders_chronologically_and_round_trips() {
        let a: IsoDate = "2023-12-31".parse().unwrap();
        let b: IsoDate = "2024-01-01".parse().unwrap();
        assert!(a < b);
        assert_eq!(b.to_string(), "2024-01-01");
    }
}
