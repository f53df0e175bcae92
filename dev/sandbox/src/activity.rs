//! Activities as SmashRun sends them: an ordered JSON object kept exactly as given, plus the few values the sandbox
//! needs parsed (id, start, created/updated, distance, duration).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use time::{Date, PrimitiveDateTime, UtcOffset};

use crate::timefmt::{self, ParsedDateTime};

/// Key order of a SmashRun activity summary, as in the real captures.
pub(crate) const KEY_ORDER: &[&str] = &[
    "activityId",
    "activityType",
    "duration",
    "distance",
    "calories",
    "notes",
    "startDateTimeLocal",
    "externalId",
    "source",
    "appVersion",
    "deviceType",
    "hasDetails",
    "hasDetailsGPS",
    "startLatitude",
    "startLongitude",
    "heartRateMax",
    "heartRateMin",
    "heartRateAverage",
    "cadenceMax",
    "cadenceMin",
    "cadenceAverage",
    "weatherType",
    "temperature",
    "humidity",
    "windSpeed",
    "temperatureApparent",
    "temperatureWindChill",
    "howFelt",
    "terrain",
    "isRace",
    "isTreadmill",
    "isBadHR",
    "isBadElevation",
    "syncDateTimeUTC",
    "dateCreatedUTC",
    "dateUpdatedUTC",
];

fn canonical_rank(key: &str) -> usize {
    KEY_ORDER
        .iter()
        .position(|k| *k == key)
        .unwrap_or(KEY_ORDER.len())
}

fn static_key(key: &str) -> Cow<'static, str> {
    match KEY_ORDER.iter().find(|k| **k == key) {
        Some(k) => Cow::Borrowed(k),
        None => Cow::Owned(key.to_owned()),
    }
}

/// A JSON object whose key order is kept (serde_json's own map sorts keys unless its `preserve_order` feature is on,
/// which this crate does not turn on for the whole workspace).
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Fields(Vec<(Cow<'static, str>, Value)>);

impl Fields {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Self(Vec::with_capacity(n))
    }

    /// Appends without looking for an existing key (the generator writes each key once, in order).
    pub(crate) fn push(&mut self, key: &'static str, value: impl Into<Value>) {
        self.0.push((Cow::Borrowed(key), value.into()));
    }

    pub(crate) fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub(crate) fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Replaces the value in place, or inserts the key where SmashRun would put it (unknown keys go last).
    pub(crate) fn set(&mut self, key: &str, value: Value) {
        if let Some(slot) = self.0.iter_mut().find(|(k, _)| k == key) {
            slot.1 = value;
            return;
        }
        let rank = canonical_rank(key);
        let at = if rank == KEY_ORDER.len() {
            self.0.len()
        } else {
            self.0
                .iter()
                .position(|(k, _)| canonical_rank(k) > rank)
                .unwrap_or(self.0.len())
        };
        self.0.insert(at, (static_key(key), value));
    }

    /// Builds from a serde_json map (whose order may already be lost), putting known keys in SmashRun's order.
    pub(crate) fn from_map(map: serde_json::Map<String, Value>) -> Self {
        let mut entries: Vec<(Cow<'static, str>, Value)> =
            map.into_iter().map(|(k, v)| (static_key(&k), v)).collect();
        entries.sort_by_key(|(k, _)| canonical_rank(k));
        Self(entries)
    }

    #[cfg(test)]
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().map(|(k, v)| (k.as_ref(), v))
    }

    /// Compact JSON text.
    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }
}

impl Serialize for Fields {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k.as_ref(), v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldsVisitor;
        impl<'de> Visitor<'de> for FieldsVisitor {
            type Value = Fields;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object (one SmashRun activity)")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Fields, A::Error> {
                let mut fields = Fields::with_capacity(access.size_hint().unwrap_or(36));
                while let Some((key, value)) = access.next_entry::<String, Value>()? {
                    // A repeated key keeps its first position and its last value, as serde_json does.
                    if let Some(slot) = fields.0.iter_mut().find(|(k, _)| *k == key) {
                        slot.1 = value;
                    } else {
                        fields.0.push((static_key(&key), value));
                    }
                }
                Ok(fields)
            }
        }
        deserializer.deserialize_map(FieldsVisitor)
    }
}

/// A JSON array of activity objects, order of keys kept.
#[derive(Debug)]
pub(crate) struct FieldsList(pub(crate) Vec<Fields>);

impl<'de> Deserialize<'de> for FieldsList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListVisitor;
        impl<'de> Visitor<'de> for ListVisitor {
            type Value = FieldsList;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON array of SmashRun activity objects")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FieldsList, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(fields) = seq.next_element::<Fields>()? {
                    out.push(fields);
                }
                Ok(FieldsList(out))
            }

            fn visit_map<A: MapAccess<'de>>(self, _map: A) -> Result<FieldsList, A::Error> {
                Err(de::Error::custom(
                    "expected a JSON array of SmashRun activity objects, found an object",
                ))
            }
        }
        deserializer.deserialize_seq(ListVisitor)
    }
}

/// One stored activity: the object as given plus its parsed index values.
#[derive(Debug, Clone)]
pub(crate) struct Activity {
    pub(crate) id: i64,
    pub(crate) fields: Fields,
    pub(crate) start: ParsedDateTime,
    pub(crate) created: PrimitiveDateTime,
    pub(crate) updated: PrimitiveDateTime,
    pub(crate) distance_km: f64,
    pub(crate) duration_s: f64,
    pub(crate) is_run: bool,
}

fn number(fields: &Fields, key: &str) -> Result<f64, String> {
    match fields.get(key) {
        Some(Value::Number(n)) => match n.as_f64() {
            Some(v) if v.is_finite() && v >= 0.0 => Ok(v),
            _ => Err(format!("`{key}` must be a non-negative number")),
        },
        Some(_) => Err(format!("`{key}` must be a number")),
        None => Err(format!("`{key}` is missing")),
    }
}

fn utc_field(fields: &Fields, key: &str) -> Result<Option<PrimitiveDateTime>, String> {
    match fields.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => timefmt::parse_datetime(s)
            .map(|p| Some(p.to_utc()))
            .ok_or_else(|| {
                format!("`{key}` is not a date-time like 2022-11-09T15:01:39.44: {s:?}")
            }),
        Some(_) => Err(format!("`{key}` must be a string")),
    }
}

impl Activity {
    /// Validates and indexes one activity object. The error says what is wrong, for the caller to prefix.
    pub(crate) fn from_fields(fields: Fields) -> Result<Self, String> {
        let id = match fields.get("activityId") {
            Some(Value::Number(n)) => n.as_i64().ok_or("`activityId` must be an integer")?,
            Some(_) => return Err("`activityId` must be an integer".into()),
            None => return Err("`activityId` is missing".into()),
        };
        let start = match fields.get("startDateTimeLocal") {
            Some(Value::String(s)) => timefmt::parse_datetime(s).ok_or_else(|| {
                format!(
                    "`startDateTimeLocal` is not a date-time like 2024-03-10T07:15:00-04:00: {s:?}"
                )
            })?,
            Some(_) => return Err("`startDateTimeLocal` must be a string".into()),
            None => return Err("`startDateTimeLocal` is missing".into()),
        };
        let distance_km = number(&fields, "distance")?;
        let duration_s = number(&fields, "duration")?;
        let start_utc = start.to_utc();
        let created = utc_field(&fields, "dateCreatedUTC")?.unwrap_or(start_utc);
        let updated = utc_field(&fields, "dateUpdatedUTC")?.unwrap_or(created);
        let is_run = match fields.get("activityType") {
            None | Some(Value::Null) => true,
            Some(Value::String(t)) => t.eq_ignore_ascii_case("running"),
            Some(_) => false,
        };
        Ok(Self {
            id,
            fields,
            start,
            created,
            updated,
            distance_km,
            duration_s,
            is_run,
        })
    }

    /// The local calendar date of the start (the date part of `startDateTimeLocal`, never converted to UTC).
    pub(crate) fn local_date(&self) -> Date {
        self.start.wall.date()
    }

    pub(crate) fn start_utc(&self) -> PrimitiveDateTime {
        self.start.to_utc()
    }

    pub(crate) fn offset(&self) -> Option<UtcOffset> {
        self.start.offset
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_key_order_and_values() {
        let text = r#"[{"zeta":1,"activityId":5,"distance":13,"duration":3086.0,"startDateTimeLocal":"2022-10-23T09:08:00-04:00","temperature":-4.37}]"#;
        let list: FieldsList = serde_json::from_str(text).unwrap();
        assert_eq!(format!("[{}]", list.0[0].to_json()), text);
    }

    #[test]
    fn set_inserts_at_canonical_position() {
        let mut f = Fields::default();
        f.push("activityId", 1);
        f.push("startDateTimeLocal", "2022-10-23T09:08:00-04:00");
        f.push("dateUpdatedUTC", "2022-10-23T14:13:12.387");
        f.set("distance", json!(5));
        f.set("custom", json!("x"));
        f.set("activityId", json!(2));
        let keys: Vec<&str> = f.iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [
                "activityId",
                "distance",
                "startDateTimeLocal",
                "dateUpdatedUTC",
                "custom"
            ]
        );
        assert_eq!(f.get("activityId"), Some(&json!(2)));
    }

    #[test]
    fn validation_messages() {
        let ok = |v: Value| Activity::from_fields(Fields::from_map(v.as_object().unwrap().clone()));
        let a = ok(json!({"activityId": 7, "startDateTimeLocal": "2022-10-23T23:58:00-04:00", "distance": 1, "duration": 2})).unwrap();
        assert_eq!(a.local_date(), time::macros::date!(2022 - 10 - 23));
        assert_eq!(a.created, time::macros::datetime!(2022-10-24 03:58));
        assert!(ok(json!({"activityId": 7.5, "startDateTimeLocal": "2022-10-23T09:08:00", "distance": 1, "duration": 2})).unwrap_err().contains("activityId"));
        assert!(ok(json!({"activityId": 7, "startDateTimeLocal": "yesterday", "distance": 1, "duration": 2})).unwrap_err().contains("startDateTimeLocal"));
        assert!(
            ok(
                json!({"activityId": 7, "startDateTimeLocal": "2022-10-23T09:08:00", "duration": 2})
            )
            .unwrap_err()
            .contains("distance")
        );
        assert!(ok(json!({"activityId": 7, "startDateTimeLocal": "2022-10-23T09:08:00", "distance": 1, "duration": 2, "dateCreatedUTC": "soon"})).unwrap_err().contains("dateCreatedUTC"));
    }
}
