//! Reading SmashRun's activity JSON into a [`Run`].
//!
//! SmashRun's JSON is loose (see the captured samples): integral numbers come without a decimal
//! point, flags are 0/1 integers, missing data is usually an absent key, enumerations are open
//! sets and three date formats share one object. Only the id, start, distance and duration are
//! required; everything else is read leniently and the whole object is kept as `raw`, so a field
//! we cannot read today is not lost.

use serde::Serialize;
use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// One run, shaped as the store's `upsert_runs` function takes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Run {
    pub source_activity_id: i64,
    #[serde(serialize_with = "iso_primitive")]
    pub start_local: PrimitiveDateTime,
    pub utc_offset_minutes: Option<i32>,
    #[serde(serialize_with = "iso_offset_opt")]
    pub start_utc: Option<OffsetDateTime>,
    #[serde(serialize_with = "iso_date")]
    pub local_date: Date,
    pub distance_km: f64,
    pub duration_s: f64,
    pub activity_type: Option<String>,
    pub source_app: Option<String>,
    pub device_type: Option<String>,
    pub app_version: Option<String>,
    pub external_id: Option<String>,
    pub notes: Option<String>,
    pub calories: Option<i64>,
    pub heart_rate_min: Option<i64>,
    pub heart_rate_avg: Option<i64>,
    pub heart_rate_max: Option<i64>,
    pub cadence_min: Option<i64>,
    pub cadence_avg: Option<i64>,
    pub cadence_max: Option<i64>,
    pub weather_type: Option<String>,
    pub temperature_c: Option<f64>,
    pub temperature_apparent_c: Option<f64>,
    pub temperature_wind_chill_c: Option<f64>,
    pub humidity_pct: Option<f64>,
    pub wind_speed_kmh: Option<f64>,
    pub how_felt: Option<String>,
    pub terrain: Option<String>,
    pub is_race: Option<bool>,
    pub is_treadmill: Option<bool>,
    pub is_bad_hr: Option<bool>,
    pub is_bad_elevation: Option<bool>,
    pub has_details: Option<bool>,
    pub has_details_gps: Option<bool>,
    pub start_latitude: Option<f64>,
    pub start_longitude: Option<f64>,
    #[serde(serialize_with = "iso_primitive_opt")]
    pub source_created_at: Option<PrimitiveDateTime>,
    #[serde(serialize_with = "iso_primitive_opt")]
    pub source_updated_at: Option<PrimitiveDateTime>,
    pub raw: Value,
}

/// Why an activity could not become a run. The sync counts these and goes on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActivityError {
    #[error("activity is not a JSON object")]
    NotAnObject,
    #[error("activity has no usable `activityId`")]
    MissingId,
    #[error("activity {id} has no usable `{field}`")]
    MissingField { id: String, field: &'static str },
    #[error("activity {id} has an unreadable `startDateTimeLocal`")]
    BadStart { id: String },
    #[error("activity {id}: `{field}` {why}")]
    OutOfBounds {
        id: String,
        field: &'static str,
        why: &'static str,
    },
}

impl ActivityError {
    /// The activity's id, when it had a usable one.
    pub fn activity_id(&self) -> Option<&str> {
        match self {
            Self::NotAnObject | Self::MissingId => None,
            Self::MissingField { id, .. }
            | Self::BadStart { id }
            | Self::OutOfBounds { id, .. } => Some(id),
        }
    }
}

/// What a run may hold before it reaches SQL (documented in `docs/activity-bounds.md`). A
/// required field outside its bounds rejects the activity; an optional one is dropped (the raw
/// JSON keeps it). Every bound also keeps a value inside its column's type.
pub mod bounds {
    /// Start years: no GPS watch ran before 1970, and SmashRun's dates are not in the far future.
    pub const YEARS: std::ops::RangeInclusive<i32> = 1970..=2100;
    /// Real zones run from UTC-12:00 to UTC+14:00.
    pub const OFFSET_MINUTES: std::ops::RangeInclusive<i32> = -12 * 60..=14 * 60;
    /// The longest single activities (multi-day ultras) stay well under this.
    pub const DISTANCE_KM: std::ops::RangeInclusive<f64> = 0.0..=1_000.0;
    /// Thirty days.
    pub const DURATION_S: std::ops::RangeInclusive<f64> = 0.0..=2_592_000.0;
    pub const CALORIES: std::ops::RangeInclusive<i64> = 0..=100_000;
    pub const HEART_RATE: std::ops::RangeInclusive<i64> = 0..=300;
    pub const CADENCE: std::ops::RangeInclusive<i64> = 0..=400;
    pub const TEMPERATURE_C: std::ops::RangeInclusive<f64> = -90.0..=60.0;
    pub const HUMIDITY_PCT: std::ops::RangeInclusive<f64> = 0.0..=100.0;
    pub const WIND_KMH: std::ops::RangeInclusive<f64> = 0.0..=500.0;
    /// Characters of `notes`; other text fields are cut at [`SHORT_TEXT`].
    pub const NOTES: usize = 4_000;
    pub const SHORT_TEXT: usize = 200;
}

impl Run {
    pub fn from_smashrun(value: &Value) -> Result<Self, ActivityError> {
        let obj = value.as_object().ok_or(ActivityError::NotAnObject)?;
        let id = integer(obj.get("activityId")).ok_or(ActivityError::MissingId)?;
        let id_text = id.to_string();
        let missing = |field| ActivityError::MissingField {
            id: id_text.clone(),
            field,
        };
        let start_text = obj
            .get("startDateTimeLocal")
            .and_then(Value::as_str)
            .ok_or_else(|| missing("startDateTimeLocal"))?;
        let (start_local, offset) =
            parse_local_start(start_text).ok_or(ActivityError::BadStart {
                id: id_text.clone(),
            })?;
        let out_of_bounds = |field, why| ActivityError::OutOfBounds {
            id: id_text.clone(),
            field,
            why,
        };
        if id <= 0 {
            return Err(out_of_bounds("activityId", "is not a positive integer"));
        }
        if !bounds::YEARS.contains(&start_local.year()) {
            return Err(out_of_bounds(
                "startDateTimeLocal",
                "is outside the years 1970 to 2100",
            ));
        }
        let offset_minutes = offset.map(|o| i32::from(o.whole_minutes()));
        if offset_minutes.is_some_and(|m| !bounds::OFFSET_MINUTES.contains(&m)) {
            return Err(out_of_bounds(
                "startDateTimeLocal",
                "has an offset outside UTC-12:00 to UTC+14:00",
            ));
        }
        let distance_km = non_negative(obj.get("distance")).ok_or_else(|| missing("distance"))?;
        if !bounds::DISTANCE_KM.contains(&distance_km) {
            return Err(out_of_bounds("distance", "is over 1,000 km"));
        }
        let duration_s = non_negative(obj.get("duration")).ok_or_else(|| missing("duration"))?;
        if !bounds::DURATION_S.contains(&duration_s) {
            return Err(out_of_bounds("duration", "is over 30 days"));
        }
        let within = |value: Option<i64>, range: std::ops::RangeInclusive<i64>| {
            value.filter(|v| range.contains(v))
        };
        let within_f = |value: Option<f64>, range: std::ops::RangeInclusive<f64>| {
            value.filter(|v| range.contains(v))
        };
        let stamp = |key: &str| {
            obj.get(key)
                .and_then(Value::as_str)
                .and_then(parse_utc_naive)
                .filter(|t| bounds::YEARS.contains(&t.year()))
        };

        Ok(Self {
            source_activity_id: id,
            start_local,
            utc_offset_minutes: offset_minutes,
            start_utc: offset.map(|o| start_local.assume_offset(o)),
            local_date: start_local.date(),
            distance_km,
            duration_s,
            activity_type: text(obj, "activityType", bounds::SHORT_TEXT),
            source_app: text(obj, "source", bounds::SHORT_TEXT),
            device_type: text(obj, "deviceType", bounds::SHORT_TEXT),
            app_version: text(obj, "appVersion", bounds::SHORT_TEXT),
            external_id: text(obj, "externalId", bounds::SHORT_TEXT),
            notes: text(obj, "notes", bounds::NOTES),
            calories: within(integer(obj.get("calories")), bounds::CALORIES),
            heart_rate_min: within(integer(obj.get("heartRateMin")), bounds::HEART_RATE),
            heart_rate_avg: within(integer(obj.get("heartRateAverage")), bounds::HEART_RATE),
            heart_rate_max: within(integer(obj.get("heartRateMax")), bounds::HEART_RATE),
            cadence_min: within(integer(obj.get("cadenceMin")), bounds::CADENCE),
            cadence_avg: within(integer(obj.get("cadenceAverage")), bounds::CADENCE),
            cadence_max: within(integer(obj.get("cadenceMax")), bounds::CADENCE),
            weather_type: text(obj, "weatherType", bounds::SHORT_TEXT),
            temperature_c: within_f(float(obj.get("temperature")), bounds::TEMPERATURE_C),
            temperature_apparent_c: within_f(
                float(obj.get("temperatureApparent")),
                bounds::TEMPERATURE_C,
            ),
            temperature_wind_chill_c: within_f(
                float(obj.get("temperatureWindChill")),
                bounds::TEMPERATURE_C,
            ),
            humidity_pct: within_f(float(obj.get("humidity")), bounds::HUMIDITY_PCT),
            wind_speed_kmh: within_f(float(obj.get("windSpeed")), bounds::WIND_KMH),
            how_felt: text(obj, "howFelt", bounds::SHORT_TEXT),
            terrain: text(obj, "terrain", bounds::SHORT_TEXT),
            is_race: flag(obj.get("isRace")),
            is_treadmill: flag(obj.get("isTreadmill")),
            is_bad_hr: flag(obj.get("isBadHR")),
            is_bad_elevation: flag(obj.get("isBadElevation")),
            has_details: flag(obj.get("hasDetails")),
            has_details_gps: flag(obj.get("hasDetailsGPS")),
            start_latitude: float(obj.get("startLatitude")).filter(|v| (-90.0..=90.0).contains(v)),
            start_longitude: float(obj.get("startLongitude"))
                .filter(|v| (-180.0..=180.0).contains(v)),
            source_created_at: stamp("dateCreatedUTC"),
            source_updated_at: stamp("dateUpdatedUTC"),
            raw: without_nul(value),
        })
    }
}

/// `2024-03-10T07:15:00-04:00`, `2024-03-10T07:15:00` or `2024-03-10T07:15`: wall time and,
/// when given, its offset. The wall time is kept as written: the local date is the streak day.
pub fn parse_local_start(text: &str) -> Option<(PrimitiveDateTime, Option<UtcOffset>)> {
    if let Ok(with_offset) = OffsetDateTime::parse(text, &Rfc3339) {
        let local = PrimitiveDateTime::new(with_offset.date(), with_offset.time());
        return Some((local, Some(with_offset.offset())));
    }
    if let Some((wall, offset)) = split_offset(text) {
        let local = parse_naive(wall)?;
        return Some((local, Some(offset)));
    }
    parse_naive(text).map(|local| (local, None))
}

// An offset without seconds (`-04:00`) after a wall time that RFC 3339 refused, e.g. one
// without seconds.
fn split_offset(text: &str) -> Option<(&str, UtcOffset)> {
    let cut = text.len().checked_sub(6)?;
    let (wall, tail) = text.split_at_checked(cut)?;
    let sign = match tail.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let hours: i8 = tail.get(1..3)?.parse().ok()?;
    let minutes: i8 = tail.get(4..6)?.parse().ok()?;
    if tail.as_bytes().get(3) != Some(&b':') {
        return None;
    }
    let offset = UtcOffset::from_hms(sign * hours, sign * minutes, 0).ok()?;
    Some((wall, offset))
}

/// SmashRun's UTC stamps: no `Z`, no offset, 0 to 3 (here: up to 9) fraction digits.
pub fn parse_utc_naive(text: &str) -> Option<PrimitiveDateTime> {
    parse_naive(text.strip_suffix('Z').unwrap_or(text))
}

fn parse_naive(text: &str) -> Option<PrimitiveDateTime> {
    let with_fraction =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:1+]");
    let seconds = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let minutes = format_description!("[year]-[month]-[day]T[hour]:[minute]");
    PrimitiveDateTime::parse(text, with_fraction)
        .or_else(|_| PrimitiveDateTime::parse(text, seconds))
        .or_else(|_| PrimitiveDateTime::parse(text, minutes))
        .ok()
}

fn float(value: Option<&Value>) -> Option<f64> {
    match value? {
        Value::Number(n) => n.as_f64().filter(|v| v.is_finite()),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|v| v.is_finite()),
        _ => None,
    }
}

fn non_negative(value: Option<&Value>) -> Option<f64> {
    float(value).filter(|v| *v >= 0.0)
}

/// Integers may arrive as `3086`, `3086.0` or `"3086"`; anything else is treated as absent.
fn integer(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|v| v.fract() == 0.0 && v.abs() < 9.0e15)
                .map(|v| v as i64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn flag(value: Option<&Value>) -> Option<bool> {
    match value? {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_i64() {
            Some(0) => Some(false),
            Some(1) => Some(true),
            _ => None,
        },
        _ => None,
    }
}

/// Open sets are kept as text; an empty string is SmashRun's way of saying "none". PostgreSQL
/// text holds no NUL, so NULs become U+FFFD; text is cut at `max` characters.
fn text(obj: &Map<String, Value>, key: &str, max: usize) -> Option<String> {
    let text = match obj.get(key)? {
        Value::String(s) if s.is_empty() => return None,
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    Some(text.replace('\0', "\u{fffd}").chars().take(max).collect())
}

/// The raw JSON as `jsonb` can hold it: no NUL in any string or key.
fn without_nul(value: &Value) -> Value {
    match value {
        Value::String(s) if s.contains('\0') => Value::String(s.replace('\0', "\u{fffd}")),
        Value::Array(items) => Value::Array(items.iter().map(without_nul).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.replace('\0', "\u{fffd}"), without_nul(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Parses a SmashRun answer. A lone UTF-16 surrogate escape (`\ud800` with no partner) makes
/// the whole text invalid JSON; such escapes become U+FFFD, so one activity cannot make its
/// whole page unreadable.
pub fn parse_answer(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    match serde_json::from_slice(bytes) {
        Ok(value) => Ok(value),
        Err(first) => match repair_lone_surrogates(bytes) {
            Some(repaired) => serde_json::from_slice(&repaired),
            None => Err(first),
        },
    }
}

/// The text with every unpaired `\uD800`-`\uDFFF` escape replaced by `\ufffd`, or `None`
/// when there was none.
fn repair_lone_surrogates(bytes: &[u8]) -> Option<Vec<u8>> {
    let hex = |at: usize| -> Option<u16> {
        let digits = bytes.get(at..at + 4)?;
        u16::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
    };
    let escape_at = |at: usize| -> Option<u16> {
        (bytes.get(at) == Some(&b'\\') && bytes.get(at + 1) == Some(&b'u'))
            .then(|| hex(at + 2))
            .flatten()
    };
    let mut out = Vec::with_capacity(bytes.len());
    let mut changed = false;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        match escape_at(i) {
            Some(0xD800..=0xDBFF) => {
                if matches!(escape_at(i + 6), Some(0xDC00..=0xDFFF)) {
                    out.extend_from_slice(&bytes[i..i + 12]);
                    i += 12;
                } else {
                    out.extend_from_slice(b"\\ufffd");
                    changed = true;
                    i += 6;
                }
            }
            Some(0xDC00..=0xDFFF) => {
                out.extend_from_slice(b"\\ufffd");
                changed = true;
                i += 6;
            }
            // Any other escape, `\\` included, is copied whole so its second byte is not
            // read as the start of another escape.
            _ => {
                out.extend_from_slice(&bytes[i..(i + 2).min(bytes.len())]);
                i += 2;
            }
        }
    }
    changed.then_some(out)
}

fn iso_primitive<S: serde::Serializer>(v: &PrimitiveDateTime, s: S) -> Result<S::Ok, S::Error> {
    let fmt = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond]");
    s.serialize_str(&v.format(fmt).map_err(serde::ser::Error::custom)?)
}

fn iso_primitive_opt<S: serde::Serializer>(
    v: &Option<PrimitiveDateTime>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => iso_primitive(v, s),
        None => s.serialize_none(),
    }
}

fn iso_offset_opt<S: serde::Serializer>(
    v: &Option<OffsetDateTime>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_str(&v.format(&Rfc3339).map_err(serde::ser::Error::custom)?),
        None => s.serialize_none(),
    }
}

fn iso_date<S: serde::Serializer>(v: &Date, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::{date, datetime};

    fn sample() -> Value {
        json!({
            "activityId": 31304734, "activityType": "running", "duration": 3086,
            "distance": 10.46527, "calories": null, "notes": "",
            "startDateTimeLocal": "2022-10-30T23:58:00-04:00", "externalId": "9886066281",
            "source": "garminhealth", "appVersion": "20.04", "deviceType": "Apple",
            "hasDetails": 1, "hasDetailsGPS": 0, "heartRateMax": 148, "isTreadmill": 1,
            "terrain": "treadmill", "dateCreatedUTC": "2022-10-31T03:56:39.44",
            "dateUpdatedUTC": "2022-10-31T03:56:40"
        })
    }

    #[test]
    fn reads_loose_smashrun_json() {
        let run = Run::from_smashrun(&sample()).unwrap();
        assert_eq!(run.source_activity_id, 31304734);
        assert_eq!(run.duration_s, 3086.0);
        assert_eq!(run.calories, None);
        assert_eq!(run.notes, None);
        assert_eq!(run.is_treadmill, Some(true));
        assert_eq!(run.has_details_gps, Some(false));
        assert_eq!(run.device_type.as_deref(), Some("Apple"));
        assert_eq!(run.heart_rate_min, None);
        assert_eq!(run.utc_offset_minutes, Some(-240));
        assert_eq!(
            run.source_created_at,
            Some(datetime!(2022-10-31 03:56:39.44))
        );
    }

    #[test]
    fn local_date_is_the_wall_clock_date_not_utc() {
        // 23:58 at -04:00 is 03:58 UTC the next day; the streak day is still the 30th.
        let run = Run::from_smashrun(&sample()).unwrap();
        assert_eq!(run.local_date, date!(2022 - 10 - 30));
        assert_eq!(run.start_utc, Some(datetime!(2022-10-31 03:58 UTC)));
    }

    #[test]
    fn start_without_offset_is_accepted() {
        let mut v = sample();
        v["startDateTimeLocal"] = json!("2022-10-30T06:05:00");
        let run = Run::from_smashrun(&v).unwrap();
        assert_eq!(run.utc_offset_minutes, None);
        assert_eq!(run.start_utc, None);
        assert_eq!(run.local_date, date!(2022 - 10 - 30));
        v["startDateTimeLocal"] = json!("2022-10-30T06:05+05:30");
        assert_eq!(
            Run::from_smashrun(&v).unwrap().utc_offset_minutes,
            Some(330)
        );
    }

    #[test]
    fn rejects_what_cannot_be_a_run() {
        for (patch, expected) in [
            (json!({"activityId": "abc"}), "activityId"),
            (json!({"distance": -1}), "distance"),
            (json!({"duration": "long"}), "duration"),
            (
                json!({"startDateTimeLocal": "2022-02-30T06:00:00"}),
                "startDateTimeLocal",
            ),
            (json!({"startDateTimeLocal": 5}), "startDateTimeLocal"),
        ] {
            let mut v = sample();
            for (k, val) in patch.as_object().unwrap() {
                v[k] = val.clone();
            }
            let err = Run::from_smashrun(&v).unwrap_err();
            assert!(err.to_string().contains(expected), "{err}");
        }
        assert_eq!(
            Run::from_smashrun(&json!([])),
            Err(ActivityError::NotAnObject)
        );
    }

    #[test]
    fn hostile_values_become_absent_not_errors() {
        let mut v = sample();
        v["heartRateMax"] = json!({"nested": true});
        v["isRace"] = json!(7);
        v["startLatitude"] = json!(1000.0);
        v["temperature"] = json!("NaN");
        let run = Run::from_smashrun(&v).unwrap();
        assert_eq!(run.heart_rate_max, None);
        assert_eq!(run.is_race, None);
        assert_eq!(run.start_latitude, None);
        assert_eq!(run.temperature_c, None);
    }

    #[test]
    fn serialises_dates_for_postgres() {
        let run = Run::from_smashrun(&sample()).unwrap();
        let row = serde_json::to_value(&run).unwrap();
        assert_eq!(row["local_date"], "2022-10-30");
        assert_eq!(row["start_local"], "2022-10-30T23:58:00.0");
        assert_eq!(row["start_utc"], "2022-10-30T23:58:00-04:00");
    }

    #[test]
    fn out_of_bounds_required_fields_reject_the_activity_with_a_reason() {
        let base = sample();
        for (field, value, reason) in [
            (
                "startDateTimeLocal",
                json!("2024-03-10T07:15:00+25:00"),
                "startDateTimeLocal",
            ),
            (
                "startDateTimeLocal",
                json!("2024-03-10T07:15:00+14:30"),
                "offset",
            ),
            ("startDateTimeLocal", json!("0000-03-10T07:15:00"), "1970"),
            ("startDateTimeLocal", json!("9999-03-10T07:15:00"), "2100"),
            ("distance", json!(1e308), "1,000 km"),
            ("duration", json!(1e12), "30 days"),
            ("activityId", json!(-5), "positive"),
        ] {
            let mut v = base.clone();
            v[field] = value.clone();
            let err = Run::from_smashrun(&v).unwrap_err();
            assert!(err.to_string().contains(reason), "{field}={value}: {err}");
        }
    }

    #[test]
    fn out_of_bounds_optional_fields_are_dropped_and_text_is_made_storable() {
        let mut v = sample();
        v["calories"] = json!(5_000_000_000_i64);
        v["heartRateMax"] = json!(9999);
        v["temperature"] = json!(1e300);
        v["dateCreatedUTC"] = json!("0001-01-01T00:00:00");
        v["notes"] = json!(format!("a\u{0}b{}", "x".repeat(10_000)));
        v["weird\u{0}key"] = json!("nul\u{0}inside");
        let run = Run::from_smashrun(&v).unwrap();
        assert_eq!(run.calories, None);
        assert_eq!(run.heart_rate_max, None);
        assert_eq!(run.temperature_c, None);
        assert_eq!(run.source_created_at, None);
        let notes = run.notes.unwrap();
        assert!(notes.starts_with("a\u{fffd}b") && notes.chars().count() == bounds::NOTES);
        let raw = run.raw.to_string();
        assert!(!raw.contains("\\u0000"), "{raw}");
        assert!(raw.contains("weird\u{fffd}key"), "{raw}");
    }

    #[test]
    fn a_lone_surrogate_does_not_make_a_page_unreadable() {
        let page = br#"[{"activityId": 1, "notes": "bad \ud800 here"}, {"activityId": 2, "notes": "ok \ud83c\udfc3 \\ud800"}]"#;
        assert!(serde_json::from_slice::<Value>(page).is_err());
        let value = parse_answer(page).unwrap();
        assert_eq!(value[0]["notes"], "bad \u{fffd} here");
        // A real pair and an escaped backslash are left alone.
        assert_eq!(value[1]["notes"], "ok \u{1f3c3} \\ud800");
        assert!(parse_answer(b"[1, 2").is_err());
    }

    /// A small deterministic generator (xorshift): no dependency, the same cases on every run.
    struct Cases(u64);

    impl Cases {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
            &items[(self.next() % items.len() as u64) as usize]
        }
        fn value(&mut self, depth: u32) -> Value {
            let numbers = [
                json!(0),
                json!(-1),
                json!(1),
                json!(i64::MAX),
                json!(i64::MIN),
                json!(u64::MAX),
                json!(1e308),
                json!(-1e308),
                json!(5e-324),
                json!(0.5),
                json!(42.195),
                json!(2_147_483_648_i64),
                json!(180),
                json!(-90.000_001),
            ];
            let texts = [
                "",
                "0",
                "1",
                "true",
                "2024-03-10T07:15:00-04:00",
                "2024-03-10T07:15:00+25:00",
                "2024-03-10T07:15:00-25:59",
                "0000-01-01T00:00:00",
                "9999-12-31T23:59:59.999999999",
                "2024-02-30T07:15:00",
                "2024-03-10T07:15",
                "2024-03-10T24:00:00",
                "nul\u{0}",
                "\u{fffd}\u{1f3c3}",
                "1e400",
                "NaN",
                "-0",
                "  12  ",
                "ünïcødé",
                "9223372036854775808",
            ];
            match (self.next() % if depth > 2 { 4 } else { 6 }) as u8 {
                0 => self.pick(&numbers).clone(),
                1 => json!(self.pick(&texts)),
                2 => json!(self.next().is_multiple_of(2)),
                3 => Value::Null,
                4 => Value::Array(
                    (0..self.next() % 3)
                        .map(|_| self.value(depth + 1))
                        .collect(),
                ),
                _ => {
                    let mut map = Map::new();
                    map.insert("k".into(), self.value(depth + 1));
                    Value::Object(map)
                }
            }
        }
    }

    /// Whatever SmashRun sends, reading it never panics, and a run that comes out holds only
    /// what its columns can store and serialises for the store.
    #[test]
    fn any_activity_json_reads_without_panicking_into_a_storable_run() {
        let keys = [
            "activityId",
            "startDateTimeLocal",
            "distance",
            "duration",
            "calories",
            "heartRateMin",
            "heartRateAverage",
            "heartRateMax",
            "cadenceAverage",
            "temperature",
            "humidity",
            "windSpeed",
            "notes",
            "activityType",
            "isRace",
            "startLatitude",
            "startLongitude",
            "dateCreatedUTC",
            "dateUpdatedUTC",
            "source",
        ];
        let mut cases = Cases(0x9E37_79B9_7F4A_7C15);
        let mut read = 0;
        for _ in 0..20_000 {
            let mut obj = sample().as_object().unwrap().clone();
            for _ in 0..(cases.next() % 6) {
                let key = *cases.pick(&keys);
                let value = cases.value(0);
                obj.insert(key.into(), value);
            }
            if cases.next().is_multiple_of(10) {
                obj.remove(*cases.pick(&keys));
            }
            let value = Value::Object(obj);
            let Ok(run) = Run::from_smashrun(&value) else {
                continue;
            };
            read += 1;
            assert!(bounds::YEARS.contains(&run.start_local.year()), "{value}");
            assert!(bounds::DISTANCE_KM.contains(&run.distance_km), "{value}");
            assert!(bounds::DURATION_S.contains(&run.duration_s), "{value}");
            assert!(
                run.utc_offset_minutes
                    .is_none_or(|m| bounds::OFFSET_MINUTES.contains(&m))
            );
            for v in [run.calories, run.heart_rate_max, run.cadence_avg]
                .into_iter()
                .flatten()
            {
                assert!(i32::try_from(v).is_ok(), "{value}");
            }
            let stored = serde_json::to_string(&run).expect("every run serialises");
            assert!(!stored.contains("\\u0000"), "{stored}");
        }
        assert!(
            read > 1_000,
            "the cases should reach the reader's success path: {read}"
        );

        // And whole pages, valid or not, parse or fail without panicking.
        for _ in 0..2_000 {
            let mut text = cases.value(0).to_string().into_bytes();
            let cut = (cases.next() as usize) % (text.len() + 1);
            if cases.next().is_multiple_of(3) {
                text.truncate(cut);
            }
            if cases.next().is_multiple_of(3) {
                text.extend_from_slice(br"\ud800");
            }
            let _ = parse_answer(&text);
        }
    }
}
