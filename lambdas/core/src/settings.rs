//! The runner's streak settings, validated before they reach the store.

use stk_protocol::SettingsPatch;

/// The most a day's runs can be asked to add up to: beyond this the setting is a mistake
/// (a daily ultramarathon), not a streak rule.
pub const MAX_MIN_DISTANCE_KM: f64 = 100.0;

/// A settings change that is well formed. Whether the zone exists is the store's to say.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingsChange {
    pub time_zone: Option<String>,
    pub min_streak_distance_km: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SettingsError {
    #[error("nothing to change: send `time_zone` and/or `min_streak_distance_km`")]
    Empty,
    #[error(
        "`{0}` is not a time zone name: use an IANA name such as Europe/Paris or America/New_York"
    )]
    MalformedZone(String),
    #[error("unknown time zone `{0}`: use an IANA name such as Europe/Paris or America/New_York")]
    UnknownZone(String),
    #[error(
        "min_streak_distance_km must be a number from 0 to {MAX_MIN_DISTANCE_KM} (1 mile is 1.609344)"
    )]
    Distance,
}

impl SettingsChange {
    pub fn parse(patch: SettingsPatch) -> Result<Self, SettingsError> {
        if patch.time_zone.is_none() && patch.min_streak_distance_km.is_none() {
            return Err(SettingsError::Empty);
        }
        if let Some(zone) = &patch.time_zone {
            let well_formed = (1..=64).contains(&zone.len())
                && zone
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'+'))
                && !zone.starts_with('/')
                && !zone.contains("..");
            if !well_formed {
                return Err(SettingsError::MalformedZone(
                    zone.chars().take(64).collect(),
                ));
            }
        }
        if let Some(km) = patch.min_streak_distance_km
            && !(km.is_finite() && (0.0..=MAX_MIN_DISTANCE_KM).contains(&km))
        {
            return Err(SettingsError::Distance);
        }
        Ok(Self {
            time_zone: patch.time_zone,
            min_streak_distance_km: patch.min_streak_distance_km,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patch(zone: Option<&str>, km: Option<f64>) -> SettingsPatch {
        SettingsPatch {
            time_zone: zone.map(str::to_owned),
            min_streak_distance_km: km,
        }
    }

    #[test]
    fn accepts_zone_names_and_sane_distances() {
        assert!(SettingsChange::parse(patch(Some("America/Argentina/Buenos_Aires"), None)).is_ok());
        assert!(SettingsChange::parse(patch(Some("Etc/GMT+5"), Some(1.609344))).is_ok());
        assert!(SettingsChange::parse(patch(None, Some(0.0))).is_ok());
        assert!(SettingsChange::parse(patch(None, Some(100.0))).is_ok());
    }

    #[test]
    fn rejects_empty_malformed_and_absurd() {
        assert_eq!(
            SettingsChange::parse(patch(None, None)),
            Err(SettingsError::Empty)
        );
        for zone in [
            "",
            "Europe/Paris; drop table",
            "../etc/passwd",
            "/etc/localtime",
            "Europe Paris",
        ] {
            assert!(
                matches!(
                    SettingsChange::parse(patch(Some(zone), None)),
                    Err(SettingsError::MalformedZone(_))
                ),
                "{zone}"
            );
        }
        for km in [-0.1, 100.01, f64::NAN, f64::INFINITY] {
            assert_eq!(
                SettingsChange::parse(patch(None, Some(km))),
                Err(SettingsError::Distance),
                "{km}"
            );
        }
    }
}
