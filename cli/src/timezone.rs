//! This machine's IANA time zone, to offer (or use) for `stk config set timezone`.
//!
//! Read from `TZ` (`Europe/Paris`, `:Europe/Paris` or a path under `zoneinfo/`), else from the
//! target of the `/etc/localtime` link, else from `/etc/timezone`. POSIX rule strings such as
//! `CET-1CEST,M3.5.0` are not zone names and are skipped. The server checks the name it is given.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// This machine's zone name, if it can be told (`tz`: the `TZ` variable).
pub fn machine_zone(tz: Option<OsString>) -> Option<String> {
    detect(
        tz,
        || std::fs::read_link("/etc/localtime").ok(),
        || std::fs::read_to_string("/etc/timezone").ok(),
    )
}

/// Whether `zone` is UTC under another name (`Etc/UTC`, `Zulu`, `GMT`...): nothing to offer
/// a runner whose streak days already follow UTC.
pub fn is_utc(zone: &str) -> bool {
    let name = zone.strip_prefix("Etc/").unwrap_or(zone);
    matches!(
        name,
        "UTC" | "UCT" | "Universal" | "Zulu" | "GMT" | "GMT0" | "GMT+0" | "GMT-0" | "Greenwich"
    )
}

/// [`machine_zone`] with its sources passed in, for tests.
pub fn detect(
    tz: Option<OsString>,
    localtime_target: impl FnOnce() -> Option<PathBuf>,
    timezone_file: impl FnOnce() -> Option<String>,
) -> Option<String> {
    tz.and_then(|tz| from_tz(tz.to_str()?))
        .or_else(|| from_zoneinfo_path(&localtime_target()?))
        .or_else(|| {
            let text = timezone_file()?;
            zone_name(text.lines().next()?.trim())
        })
}

fn from_tz(tz: &str) -> Option<String> {
    let tz = tz.trim();
    let tz = tz.strip_prefix(':').unwrap_or(tz);
    if tz.contains("zoneinfo/") {
        return from_zoneinfo_path(Path::new(tz));
    }
    zone_name(tz)
}

/// `/usr/share/zoneinfo/Europe/Paris` (or `../usr/share/zoneinfo/posix/Europe/Paris`) -> the name.
fn from_zoneinfo_path(path: &Path) -> Option<String> {
    let text = path.to_str()?;
    let (_, name) = text.rsplit_once("zoneinfo/")?;
    let name = name
        .strip_prefix("posix/")
        .or_else(|| name.strip_prefix("right/"))
        .unwrap_or(name);
    zone_name(name)
}

/// `name` when it looks like an IANA zone name (`Europe/Paris`, `America/Port-au-Prince`,
/// `Etc/GMT+5`, `UTC`).
fn zone_name(name: &str) -> Option<String> {
    let plausible = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '+'))
        && name.split('/').all(|part| !part.is_empty())
        && !matches!(name, "localtime" | "posixrules" | "Factory");
    // A POSIX rule (`EST5EDT` is also a zone; `CET-1` is not) has digits right after letters.
    let posix_rule = !name.contains('/')
        && name
            .find(|c: char| !c.is_ascii_alphabetic())
            .is_some_and(|i| name[i..].starts_with(|c: char| c == '-' || c.is_ascii_digit()))
        && name != "EST5EDT"
        && name != "CST6CDT"
        && name != "MST7MDT"
        && name != "PST8PDT";
    (plausible && !posix_rule).then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(tz: Option<&str>, link: Option<&str>, file: Option<&str>) -> Option<String> {
        detect(
            tz.map(OsString::from),
            || link.map(PathBuf::from),
            || file.map(str::to_owned),
        )
    }

    #[test]
    fn utc_by_any_name() {
        for zone in [
            "UTC",
            "Etc/UTC",
            "Etc/Zulu",
            "GMT",
            "Etc/GMT+0",
            "Universal",
        ] {
            assert!(is_utc(zone), "{zone}");
        }
        for zone in ["Europe/London", "Etc/GMT+1", "Africa/Abidjan"] {
            assert!(!is_utc(zone), "{zone}");
        }
    }

    #[test]
    fn tz_wins_in_any_of_its_forms() {
        let link = Some("/usr/share/zoneinfo/America/New_York");
        assert_eq!(
            from(Some("Europe/Paris"), link, None).as_deref(),
            Some("Europe/Paris")
        );
        assert_eq!(
            from(Some(":Europe/Paris"), link, None).as_deref(),
            Some("Europe/Paris")
        );
        assert_eq!(
            from(Some("/usr/share/zoneinfo/Asia/Tokyo"), link, None).as_deref(),
            Some("Asia/Tokyo")
        );
        assert_eq!(from(Some("UTC"), link, None).as_deref(), Some("UTC"));
        assert_eq!(
            from(Some("Etc/GMT+5"), link, None).as_deref(),
            Some("Etc/GMT+5")
        );
        assert_eq!(
            from(Some("EST5EDT"), link, None).as_deref(),
            Some("EST5EDT")
        );
    }

    #[test]
    fn posix_rules_and_junk_fall_through_to_the_files() {
        let link = Some("../usr/share/zoneinfo/America/New_York");
        for tz in [
            "CET-1CEST,M3.5.0,M10.5.0/3",
            "UTC0",
            "",
            "../../etc/passwd",
            "a b",
        ] {
            assert_eq!(
                from(Some(tz), link, None).as_deref(),
                Some("America/New_York"),
                "{tz:?}"
            );
        }
    }

    #[test]
    fn localtime_link_then_timezone_file() {
        assert_eq!(
            from(
                None,
                Some("/usr/share/zoneinfo/posix/Australia/Lord_Howe"),
                None
            )
            .as_deref(),
            Some("Australia/Lord_Howe")
        );
        assert_eq!(
            from(
                None,
                Some("/var/db/timezone/zoneinfo/America/Port-au-Prince"),
                None
            )
            .as_deref(),
            Some("America/Port-au-Prince")
        );
        assert_eq!(
            from(None, Some("/etc/some-copy"), Some("Europe/Berlin\n")).as_deref(),
            Some("Europe/Berlin")
        );
        assert_eq!(
            from(None, None, Some("Europe/Lisbon\n")).as_deref(),
            Some("Europe/Lisbon")
        );
        assert_eq!(from(None, None, Some("\n")), None);
        assert_eq!(from(None, None, None), None);
    }
}
