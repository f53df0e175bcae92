//! Property tests: nothing SmashRun sends can panic the activity reader or the page reader, and
//! whatever the reader accepts is within the documented bounds (docs/activity-bounds.md) and can
//! be sent to the store. Bounded: 256 cases each (PROPTEST_CASES overrides), so CI runs them all.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use proptest::prelude::*;
use serde_json::{Map, Number, Value};
use stk_core::activity::{Run, bounds, parse_answer};

/// Every field the reader looks at, and a few it must ignore.
const KEYS: &[&str] = &[
    "activityId",
    "startDateTimeLocal",
    "distance",
    "duration",
    "activityType",
    "source",
    "deviceType",
    "appVersion",
    "externalId",
    "notes",
    "calories",
    "heartRateMin",
    "heartRateAverage",
    "heartRateMax",
    "cadenceMin",
    "cadenceAverage",
    "cadenceMax",
    "weatherType",
    "temperature",
    "temperatureApparent",
    "temperatureWindChill",
    "humidity",
    "windSpeed",
    "howFelt",
    "terrain",
    "isRace",
    "isTreadmill",
    "isBadHR",
    "isBadElevation",
    "hasDetails",
    "hasDetailsGPS",
    "startLatitude",
    "startLongitude",
    "dateCreatedUTC",
    "dateUpdatedUTC",
    "unknownField",
    "\u{0}",
    "ĉ",
];

fn hostile_string() -> impl Strategy<Value = String> {
    prop_oneof![
        // Dates and offsets near and past every edge.
        (
            0i32..=10_000,
            0u32..=14,
            0u32..=33,
            0u32..=25,
            0u32..=61,
            -30i32..=30
        )
            .prop_map(|(y, mo, d, h, mi, off)| format!(
                "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:00{off:+03}:00"
            )),
        (1969i32..=2101, 1u32..=12, 1u32..=28)
            .prop_map(|(y, m, d)| format!("{y}-{m:02}-{d:02}T06:30:00")),
        any::<String>(),
        "\\PC{0,40}",
        Just("\u{0}".repeat(3)),
        Just("x".repeat(bounds::NOTES + 1)),
        Just("NaN".to_owned()),
        Just("1e308".to_owned()),
    ]
}

fn hostile_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| Number::from_f64(f).map_or(Value::Null, Value::Number)),
        Just(Value::from(1e308)),
        Just(Value::from(-1e308)),
        Just(Value::from(f64::MIN_POSITIVE)),
        (0.0f64..50.0).prop_map(Value::from),
        (0i64..20_000).prop_map(Value::from),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        hostile_number(),
        hostile_string().prop_map(Value::String),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("\\PC{0,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An object with SmashRun's keys, each holding anything.
fn activity() -> impl Strategy<Value = Value> {
    prop::collection::vec((prop::sample::select(KEYS), json()), 0..14).prop_map(|pairs| {
        let mut map = Map::new();
        for (k, v) in pairs {
            map.insert((*k).to_owned(), v);
        }
        Value::Object(map)
    })
}

/// What a damaged page may have in it: lone surrogate escapes, cut escapes, stray quotes,
/// NULs, brackets and bytes that are not UTF-8.
const DAMAGE: &[&[u8]] = &[
    b"\\ud800", b"\\udc00", b"\\u", b"\\", b"\"", b"\0", b"]", b"\xff",
];

fn check_accepted(run: &Run) {
    assert!(bounds::DISTANCE_KM.contains(&run.distance_km), "{run:?}");
    assert!(bounds::DURATION_S.contains(&run.duration_s), "{run:?}");
    assert!(bounds::YEARS.contains(&run.local_date.year()), "{run:?}");
    if let Some(offset) = run.utc_offset_minutes {
        assert!(bounds::OFFSET_MINUTES.contains(&offset), "{run:?}");
    }
    assert!(
        run.calories.is_none_or(|c| bounds::CALORIES.contains(&c)),
        "{run:?}"
    );
    for rate in [run.heart_rate_min, run.heart_rate_avg, run.heart_rate_max] {
        assert!(
            rate.is_none_or(|r| bounds::HEART_RATE.contains(&r)),
            "{run:?}"
        );
    }
    for text in [
        &run.notes,
        &run.activity_type,
        &run.terrain,
        &run.external_id,
    ] {
        assert!(text.as_deref().is_none_or(|t| !t.contains('\0')), "{run:?}");
    }
    assert!(
        run.notes
            .as_deref()
            .is_none_or(|n| n.chars().count() <= bounds::NOTES)
    );
    // What the store adapter sends must serialise: no NaN, no infinity, no NUL.
    let sent = serde_json::to_string(run).unwrap();
    assert!(!sent.contains("\\u0000"), "{sent}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_activity_reader_never_panics_and_accepts_only_bounded_runs(value in activity()) {
        if let Ok(run) = Run::from_smashrun(&value) {
            check_accepted(&run);
        }
    }

    #[test]
    fn the_activity_reader_never_panics_on_any_json(value in json()) {
        if let Ok(run) = Run::from_smashrun(&value) {
            check_accepted(&run);
        }
    }

    #[test]
    fn the_page_reader_never_panics_on_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2_048)) {
        let _ = parse_answer(&bytes);
    }

    /// A valid page with bytes flipped, escapes cut short or surrogates left alone: parsed or
    /// refused, never a panic; and a page that parses reads activity by activity.
    #[test]
    fn the_page_reader_never_panics_on_damaged_pages(
        page in prop::collection::vec(activity(), 0..4),
        cuts in prop::collection::vec((any::<prop::sample::Index>(), prop::sample::select(DAMAGE)), 0..4),
    ) {
        let mut bytes = serde_json::to_vec(&Value::Array(page)).unwrap();
        for (at, insert) in cuts {
            let at = at.index(bytes.len() + 1);
            bytes.splice(at..at, insert.iter().copied());
        }
        if let Ok(Value::Array(items)) = parse_answer(&bytes) {
            for item in &items {
                if let Ok(run) = Run::from_smashrun(item) {
                    check_accepted(&run);
                }
            }
        }
    }
}
