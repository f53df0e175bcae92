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
        let distance_km = non_negative(obj.get("distance")).ok_or_else(|| missing("distance"))?;
        let duration_s = non_negative(obj.get("duration")).ok_or_else(|| missing("duration"))?;

        Ok(Self {
            source_activity_id: id,
            start_local,
            utc_offset_minutes: offset.map(|o| i32::from(o.whole_minutes())),
            start_utc: offset.map(|o| start_local.assume_offset(o)),
            local_date: start_local.date(),
            distance_km,
            duration_s,
            activity_type: text(obj, "activityType"),
            source_app: text(obj, "source"),
            device_type: text(obj, "deviceType"),
            app_version: text(obj, "appVersion"),
            external_id: text(obj, "externalId"),
            notes: text(obj, "notes"),
            calories: integer(obj.get("calories")),
            heart_rate_min: integer(obj.get("heartRateMin")),
            heart_rate_avg: integer(obj.get("heartRateAverage")),
            heart_rate_max: integer(obj.get("heartRateMax")),
            cadence_min: integer(obj.get("cadenceMin")),
            cadence_avg: integer(obj.get("cadenceAverage")),
            cadence_max: integer(obj.get("cadenceMax")),
            weather_type: text(obj, "weatherType"),
            temperature_c: float(obj.get("temperature")),
            temperature_apparent_c: float(obj.get("temperatureApparent")),
            temperature_wind_chill_c: float(obj.get("temperatureWindChill")),
            humidity_pct: float(obj.get("humidity")),
            wind_speed_kmh: float(obj.get("windSpeed")),
            how_felt: text(obj, "howFelt"),
            terrain: text(obj, "terrain"),
            is_race: flag(obj.get("isRace")),
            is_treadmill: flag(obj.get("isTreadmill")),
            is_bad_hr: flag(obj.get("isBadHR")),
            is_bad_elevation: flag(obj.get("isBadElevation")),
            has_details: flag(obj.get("hasDetails")),
            has_details_gps: flag(obj.get("hasDetailsGPS")),
            start_latitude: float(obj.get("startLatitude")).filter(|v| (-90.0..=90.0).contains(v)),
            start_longitude: float(obj.get("startLongitude"))
                .filter(|v| (-180.0..=180.0).contains(v)),
            source_created_at: obj
                .get("dateCreatedUTC")
                .and_then(Value::as_str)
                .and_then(parse_utc_naive),
            source_updated_at: obj
                .get("dateUpdatedUTC")
                .and_then(Value::as_str)
                .and_then(parse_utc_naive),
            raw: value.clone(),
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

/// Open sets are kept as text; an empty string is SmashRun's way of saying "none".
fn text(obj: &Map<String, Value>, key: &str) -> Option<String> {
    match obj.get(key)? {
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
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
}
