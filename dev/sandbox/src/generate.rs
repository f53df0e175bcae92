//! Deterministic, realistic SmashRun histories.
//!
//! Everything here imitates the real captures in `dev/fixtures/smashrun-activities-summary.json`: the same keys in the same
//! order, the same key-set variants (absent keys rather than `null`), 0/1 flags, the three date formats, SQL Server
//! roundings of the UTC times, integral numbers without a decimal point, the sources, devices, app versions and
//! weather types seen, activity ids that follow creation order (so a run entered or imported late breaks the
//! order), and so on. The same profile, seed and `today` always give the same activities.

use serde_json::Value;
use time::macros::{date, datetime};
use time::{Date, Duration, Month, PrimitiveDateTime, Time};

use crate::activity::Fields;
use crate::config::Profile;
use crate::rng::SplitMix64;
use crate::stats::json_fixed;
use crate::timefmt;
use crate::tz::{self, TRIP_ZONES, Zone};

/// How the days before the gap that precedes the current streak are filled.
#[derive(Debug, Clone, Copy)]
enum Before {
    /// 3 or 4 runs in every 7 days.
    Sporadic,
    /// A run on each day with this probability.
    NearDaily(f64),
}

#[derive(Debug, Clone, Copy)]
struct Spec {
    streak_days: u32,
    before_days: u32,
    before: Before,
    double_p: f64,
    triple_p: f64,
    /// The first days of the history were imported in one batch when the runner joined: their `dateCreatedUTC` is
    /// the join date (`None`: joined 13 years before `today`, or at the start if the history is shorter).
    import_days: Option<u32>,
    salt: u64,
}

fn spec(profile: Profile) -> Spec {
    let streak_days = profile.current_streak_days();
    match profile {
        Profile::Streaker => Spec {
            streak_days,
            before_days: 450,
            before: Before::Sporadic,
            double_p: 0.065,
            triple_p: 0.0035,
            import_days: Some(180),
            salt: 0x5354_5245_414B_4552,
        },
        Profile::Lifetime => Spec {
            streak_days,
            before_days: 55 * 365 + 14 - streak_days - 1,
            before: Before::NearDaily(0.9),
            double_p: 0.06,
            triple_p: 0.004,
            import_days: None,
            salt: 0x4C49_4645_5449_4D45,
        },
        Profile::Small => Spec {
            streak_days,
            before_days: 7,
            before: Before::Sporadic,
            double_p: 0.22,
            triple_p: 0.03,
            import_days: Some(0),
            salt: 0x534D_414C_4C00_0000,
        },
    }
}

/// Features placed on fixed days before `today` so that every profile, even the small one, has each of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Force {
    NoHeartRate,
    Treadmill,
    Manual,
    AfterMidnight,
    BeforeMidnight,
    Double,
    Triple,
    Indoor,
}

fn forced(days_before_today: i64) -> Option<Force> {
    match days_before_today {
        3 => Some(Force::NoHeartRate),
        5 => Some(Force::Treadmill),
        7 => Some(Force::Manual),
        8 => Some(Force::AfterMidnight),
        9 => Some(Force::BeforeMidnight),
        11 => Some(Force::Double),
        12 => Some(Force::Triple),
        13 => Some(Force::Indoor),
        _ => None,
    }
}

/// The runner is away from home (the days before `today` of the forced trip: 24 to 21).
const FORCED_TRIP: (i64, i64) = (24, 21);

#[derive(Debug, Clone, Copy)]
struct Trip {
    first: Date,
    last: Date,
    zone: Zone,
}

/// Which app recorded runs on a given date, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EraKind {
    /// Before GPS watches: a log typed in by hand (and imported).
    Logbook,
    /// Garmin Connect uploads (sources `garmin`, `garminpush`, `garminhealth`).
    Garmin,
    /// Garmin vivoactive period: calories always null, many runs without heart rate.
    Vivo,
    /// MapMyRun (Android): half cadences, no `cadenceMin`, integral durations, calories sometimes null.
    MapMyRun,
}

#[derive(Debug)]
struct Era {
    until: Date,
    kind: EraKind,
    source: &'static str,
    device: &'static str,
    app: &'static str,
}

const fn era(
    until: Date,
    kind: EraKind,
    source: &'static str,
    device: &'static str,
    app: &'static str,
) -> Era {
    Era {
        until,
        kind,
        source,
        device,
        app,
    }
}

/// Apps and devices over time, as in the real captures (each era lasts until `until`, exclusive).
#[rustfmt::skip]
const ERAS: &[Era] = &[
    era(date!(2008 - 01 - 01), EraKind::Logbook, "manual", "", ""),
    era(date!(2014 - 01 - 01), EraKind::Garmin, "garmin", "Garmin", "3.2"),
    era(date!(2016 - 07 - 01), EraKind::Garmin, "garmin", "Garmin", "4.02"),
    era(date!(2018 - 04 - 01), EraKind::Garmin, "garminpush", "Garmin", "7"),
    era(date!(2019 - 06 - 01), EraKind::Garmin, "garminpush", "Garmin", "8.02"),
    era(date!(2020 - 03 - 01), EraKind::Vivo, "garmin", "Garmin - Viv", "2.74"),
    era(date!(2020 - 05 - 01), EraKind::MapMyRun, "mapmyrun", "MapMyRun And", ""),
    era(date!(2021 - 01 - 01), EraKind::Garmin, "garmin", "Garmin", "7"),
    era(date!(2021 - 07 - 01), EraKind::Garmin, "garminhealth", "Garmin", "9.01"),
    era(date!(2022 - 01 - 01), EraKind::Garmin, "garminhealth", "Garmin", "13"),
    era(date!(2022 - 05 - 01), EraKind::Garmin, "garminhealth", "Garmin", "16.03"),
    era(date!(2022 - 09 - 01), EraKind::Garmin, "garminhealth", "Garmin", "18.02"),
    era(Date::MAX, EraKind::Garmin, "garminhealth", "Garmin", "20.04"),
];

fn era_for(day: Date) -> &'static Era {
    ERAS.iter()
        .find(|e| day < e.until)
        .unwrap_or(&ERAS[ERAS.len() - 1])
}

/// What kind of session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Outdoor,
    Treadmill,
    /// Indoors without GPS, not flagged as treadmill (track, gym).
    Indoor,
    Manual,
}

/// Which of the three runs of a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Main,
    Second,
    Third,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HeartRate {
    Full,
    MaxAverage,
    MaxMin,
    Absent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cadence {
    Full,
    NoMin,
    Absent,
}

/// Which keys an activity has (the real data has 12 key sets).
#[derive(Debug, Clone, Copy)]
struct Shape {
    has_details: bool,
    gps: bool,
    heart_rate: HeartRate,
    cadence: Cadence,
    wind_chill: bool,
    felt_terrain: bool,
    treadmill: bool,
    blank_device: bool,
}

/// One generated activity before its id is known.
#[derive(Debug)]
struct Draft {
    fields: Fields,
    created: PrimitiveDateTime,
    start_utc: PrimitiveDateTime,
}

struct Generator {
    rng: SplitMix64,
    /// Latest allowed `dateCreatedUTC`/`dateUpdatedUTC`: just before `today` 00:00 UTC, so no generated activity is
    /// created after the moment it is served.
    cutoff: PrimitiveDateTime,
    /// When the runner joined: runs that ended before were imported then.
    joined: PrimitiveDateTime,
    imported: u32,
    /// A late watch sync that also carries the runs recorded before it: (sync time, runs in it so far).
    batch: Option<(PrimitiveDateTime, u32)>,
}

fn minutes(t: i64) -> Time {
    let t = t.rem_euclid(24 * 60);
    Time::from_hms((t / 60) as u8, (t % 60) as u8, 0).unwrap_or(Time::MIDNIGHT)
}

fn years_since_2000(at: PrimitiveDateTime) -> f64 {
    (at - datetime!(2000-01-01 0:00)).as_seconds_f64() / (365.2425 * 86_400.0)
}

/// `activityId`s follow creation time across all SmashRun users (about 7,900 a day between 2017 and 2022).
fn id_floor(created: PrimitiveDateTime) -> i64 {
    let seconds = (created - datetime!(2017-09-10 14:00)).whole_seconds() as f64;
    (16_380_000.0 + seconds * 0.0914).max(1_000.0) as i64
}

/// Garmin Connect activity ids grow with time (10 digits around 2020).
fn garmin_external_id(created: PrimitiveDateTime) -> f64 {
    let y = years_since_2000(created);
    if y >= 20.8 {
        5.70e9 + (y - 20.8) * 2.0e9
    } else if y >= 18.2 {
        2.57e9 + (y - 18.2) * 1.2e9
    } else {
        2.57e9 * (-(18.2 - y) * 0.35).exp()
    }
}

impl Generator {
    fn millis(&mut self, lo: i64, hi: i64) -> Duration {
        Duration::milliseconds(self.rng.range(lo, hi))
    }

    fn pick_times(
        &mut self,
        n: u8,
        morning_only: bool,
        force: Option<Force>,
        manual_clock: bool,
    ) -> Vec<Time> {
        let slot = |rng: &mut SplitMix64, from: i64, to: i64| {
            let t = rng.range(from, to);
            minutes(if manual_clock && rng.chance(0.7) {
                t / 30 * 30
            } else {
                t
            })
        };
        let rng = &mut self.rng;
        let (morning, midday, evening) = (
            (5 * 60 + 30, 9 * 60 + 30),
            (11 * 60 + 30, 13 * 60 + 30),
            (16 * 60 + 30, 20 * 60 + 30),
        );
        match n {
            1 => match force {
                Some(Force::BeforeMidnight) => vec![minutes(23 * 60 + rng.range(50, 59))],
                Some(Force::AfterMidnight) => vec![minutes(rng.range(0, 9))],
                _ if morning_only => vec![slot(rng, morning.0, morning.1)],
                _ => {
                    let which = *rng.weighted(&[(0u8, 58), (1, 10), (2, 30), (3, 1), (4, 1)]);
                    vec![match which {
                        0 => slot(rng, morning.0, morning.1),
                        1 => slot(rng, midday.0, midday.1),
                        2 => slot(rng, evening.0, evening.1),
                        3 => minutes(23 * 60 + rng.range(50, 59)),
                        _ => minutes(rng.range(0, 9)),
                    }]
                }
            },
            2 => {
                let first = if rng.chance(0.85) {
                    slot(rng, morning.0, morning.1)
                } else {
                    slot(rng, midday.0, midday.1)
                };
                vec![first, slot(rng, evening.0, evening.1)]
            }
            _ => vec![
                slot(rng, morning.0, morning.1),
                slot(rng, midday.0, midday.1),
                slot(rng, evening.0, evening.1),
            ],
        }
    }

    fn kind(&mut self, era: &Era, day: Date, role: Role, force: Option<Force>) -> Kind {
        if era.kind == EraKind::Logbook {
            return Kind::Manual;
        }
        match force {
            Some(Force::Treadmill) => return Kind::Treadmill,
            Some(Force::Manual) => return Kind::Manual,
            Some(Force::Indoor) => return Kind::Indoor,
            Some(Force::NoHeartRate) => return Kind::Outdoor,
            _ => {}
        }
        let winter = matches!(
            day.month(),
            Month::December | Month::January | Month::February
        );
        let treadmill = match (winter, role) {
            (true, Role::Main) => 0.11,
            (true, _) => 0.2,
            (false, Role::Main) => 0.03,
            (false, _) => 0.08,
        };
        let r = self.rng.next_f64();
        if r < 0.011 {
            Kind::Manual
        } else if r < 0.011 + treadmill {
            Kind::Treadmill
        } else if r < 0.021 + treadmill {
            Kind::Indoor
        } else {
            Kind::Outdoor
        }
    }

    /// Distance in units of 0.00001 km (SmashRun writes at most 5 decimals).
    fn distance(&mut self, day: Date, role: Role, kind: Kind, era: &Era) -> i64 {
        let rng = &mut self.rng;
        let marathon = role == Role::Main
            && kind == Kind::Outdoor
            && tz::is_sunday(day)
            && matches!(day.month(), Month::April | Month::October)
            && (8..=21).contains(&day.day())
            && rng.chance(0.3);
        if marathon {
            return 4_219_500;
        }
        let km = match role {
            Role::Main if tz::is_sunday(day) => 18.0 + rng.normal() * 3.0,
            Role::Main => 8.5 + rng.normal() * 2.2,
            Role::Second => rng.uniform(3.0, 6.5),
            Role::Third => rng.uniform(1.6, 4.0),
        }
        .clamp(1.6, 42.2);
        let miles_rounded = |km: f64, quarter: bool| {
            let step = if quarter { 4.0 } else { 2.0 };
            let miles = ((km / 1.609_344 * step).round() / step).max(1.0);
            (miles * 1.609_344 * 100_000.0).round() as i64
        };
        match kind {
            Kind::Manual => miles_rounded(km, era.kind != EraKind::Logbook),
            Kind::Treadmill if rng.chance(0.4) => miles_rounded(km, true),
            Kind::Outdoor if era.kind != EraKind::MapMyRun && rng.chance(0.025) => {
                (km.round().max(2.0) as i64) * 100_000
            }
            _ => (km * 100_000.0).round() as i64,
        }
    }

    fn shape(&mut self, kind: Kind, era: &Era, force: Option<Force>) -> Shape {
        let rng = &mut self.rng;
        let mut shape = Shape {
            has_details: true,
            gps: kind == Kind::Outdoor,
            heart_rate: HeartRate::Full,
            cadence: Cadence::Full,
            wind_chill: true,
            felt_terrain: true,
            treadmill: kind == Kind::Treadmill,
            blank_device: false,
        };
        match kind {
            Kind::Manual => {
                shape.has_details = false;
                shape.heart_rate = HeartRate::Absent;
                shape.cadence = Cadence::Absent;
                shape.felt_terrain = false;
            }
            Kind::Treadmill | Kind::Indoor => match era.kind {
                EraKind::Vivo => shape.heart_rate = HeartRate::Absent,
                EraKind::MapMyRun => {
                    shape.cadence = Cadence::NoMin;
                    shape.treadmill = false;
                    shape.has_details = rng.chance(0.7);
                    shape.heart_rate = *rng.weighted(&[
                        (HeartRate::Full, 1),
                        (HeartRate::MaxAverage, 1),
                        (HeartRate::MaxMin, 1),
                    ]);
                }
                _ if rng.chance(0.03) => shape.heart_rate = HeartRate::Absent,
                _ => {}
            },
            Kind::Outdoor => {
                let no_hr = match era.kind {
                    EraKind::Vivo => 0.25,
                    _ => 0.04,
                };
                if force == Some(Force::NoHeartRate) || rng.chance(no_hr) {
                    shape.heart_rate = HeartRate::Absent;
                }
                if era.kind == EraKind::MapMyRun {
                    shape.cadence = Cadence::NoMin;
                    shape.wind_chill = !rng.chance(0.25);
                } else {
                    shape.wind_chill = !rng.chance(0.01);
                }
                // Old Garmin uploads without device information.
                if era.source == "garmin" && era.kind == EraKind::Garmin && rng.chance(0.004) {
                    shape.blank_device = true;
                    match rng.below(3) {
                        0 => {
                            shape.has_details = false;
                            shape.heart_rate = HeartRate::MaxAverage;
                            shape.cadence = Cadence::Absent;
                            shape.felt_terrain = false;
                        }
                        1 => {}
                        _ => {
                            shape.has_details = false;
                            shape.gps = false;
                            shape.heart_rate = HeartRate::Absent;
                            shape.cadence = Cadence::Absent;
                            shape.felt_terrain = false;
                        }
                    }
                }
            }
        }
        shape
    }

    /// `dateCreatedUTC`, `dateUpdatedUTC` and `syncDateTimeUTC` of a run that ended at `end` (UTC).
    fn timestamps(
        &mut self,
        end: PrimitiveDateTime,
        kind: Kind,
    ) -> (
        PrimitiveDateTime,
        PrimitiveDateTime,
        Option<PrimitiveDateTime>,
    ) {
        let cutoff = self.cutoff;
        if end < self.joined {
            // Imported in one batch, in date order, when the runner joined.
            self.imported += 1;
            let created = timefmt::to_sql_datetime(
                self.joined
                    + Duration::milliseconds(i64::from(self.imported) * 110)
                    + self.millis(0, 90),
            );
            let updated = if self.rng.chance(0.6) {
                created
            } else {
                timefmt::to_sql_datetime(created + self.millis(3, 900)).max(created)
            };
            let sync = (kind != Kind::Manual).then_some(created);
            return (created, updated, sync);
        }
        let mut created = if kind == Kind::Manual {
            // Typed in later that day or the next.
            end + Duration::minutes(self.rng.range(30, 30 * 60))
        } else if self.rng.chance(0.003) {
            // Entered or re-imported months later.
            end + Duration::days(self.rng.range(30, 200))
                + Duration::minutes(self.rng.range(0, 1_440))
        } else if let Some((sync, n)) = self
            .batch
            .filter(|(sync, _)| end + Duration::minutes(1) < *sync)
        {
            self.batch = Some((sync, n + 1));
            sync + Duration::milliseconds(i64::from(n) * 400) + self.millis(0, 300)
        } else if self.rng.chance(0.012) {
            // The watch synced days later, carrying the runs recorded meanwhile.
            let sync = end
                + Duration::hours(self.rng.range(24, 96))
                + Duration::minutes(self.rng.range(0, 59));
            self.batch = Some((sync, 1));
            sync
        } else if self.rng.chance(0.1) {
            end + Duration::minutes(self.rng.range(20, 360))
        } else {
            end + Duration::seconds(self.rng.range(10, 1_200))
        };
        if created >= cutoff {
            self.batch = None;
            created = end + Duration::seconds(self.rng.range(10, 120));
        }
        let created = timefmt::to_sql_datetime(created + self.millis(0, 999));
        if kind == Kind::Manual {
            return (created, created, None);
        }
        let r = self.rng.next_f64();
        let mut updated = if r < 0.06 {
            created
        } else if r < 0.9 {
            created + self.millis(200, 40_000)
        } else {
            // Edited later (notes, shoes, corrections).
            created + Duration::minutes(self.rng.range(60, 14_400))
        };
        if updated >= cutoff {
            updated = created + self.millis(200, 2_000);
        }
        let updated = timefmt::to_sql_datetime(updated).max(created);
        let sync = created + self.millis(0, 4_000);
        (created, updated, Some(sync))
    }

    #[allow(clippy::too_many_arguments)]
    fn run(
        &mut self,
        day: Date,
        at: Time,
        zone: Zone,
        role: Role,
        force: Option<Force>,
        double_day: bool,
    ) -> Draft {
        let era = era_for(day);
        let kind = self.kind(era, day, role, force);
        let shape = self.shape(kind, era, force);
        let distance = self.distance(day, role, kind, era);
        let km = distance as f64 / 100_000.0;

        // Pace in seconds per km.
        let mut pace = 330.0 + self.rng.normal() * 14.0;
        pace += match role {
            Role::Main if km > 14.0 => 18.0,
            Role::Main => 0.0,
            Role::Second => 22.0,
            Role::Third => 35.0,
        };
        if double_day && role == Role::Main {
            pace += 5.0;
        }
        let mut duration_ms = (km * pace * 1000.0).round() as i64;
        let whole_seconds =
            kind == Kind::Manual || era.kind == EraKind::MapMyRun || self.rng.chance(0.015);
        if whole_seconds {
            duration_ms = duration_ms / 1000 * 1000;
            if kind == Kind::Manual && self.rng.chance(0.5) {
                duration_ms = (duration_ms / 60_000).max(1) * 60_000;
            }
        }

        let wall = day.with_time(at);
        let offset = zone.offset_at(wall);
        let start_utc = timefmt::to_utc_wall(wall.assume_offset(offset));
        let end = start_utc + Duration::milliseconds(duration_ms);
        let (created, updated, sync) = self.timestamps(end, kind);

        let rng = &mut self.rng;
        let mut f = Fields::with_capacity(36);
        f.push("activityId", 0);
        f.push("activityType", "running");
        f.push("duration", json_fixed(duration_ms, 3));
        f.push("distance", json_fixed(distance, 5));
        let calories_null = match (kind, era.kind) {
            (Kind::Manual, _) | (_, EraKind::Vivo) => true,
            (_, EraKind::MapMyRun) => rng.chance(0.5),
            _ => shape.blank_device && rng.chance(0.5),
        };
        let calories = if calories_null {
            Value::Null
        } else {
            Value::from((km * rng.uniform(78.0, 88.0)).round() as i64)
        };
        f.push("calories", calories);
        f.push("notes", "");
        f.push("startDateTimeLocal", timefmt::format_local(wall, offset));
        let external = match (kind, era.kind) {
            (Kind::Manual, _) | (_, EraKind::Logbook) => String::new(),
            (_, EraKind::MapMyRun) => format!(
                "{}",
                (4.0e9 + (years_since_2000(created) - 20.0) * 0.5e9) as i64 + rng.range(0, 40_000)
            ),
            _ => format!(
                "{}",
                garmin_external_id(created) as i64 + rng.range(0, 40_000)
            ),
        };
        f.push("externalId", external);
        let manual = kind == Kind::Manual;
        f.push("source", if manual { "manual" } else { era.source });
        f.push(
            "appVersion",
            if manual || shape.blank_device {
                ""
            } else {
                era.app
            },
        );
        f.push(
            "deviceType",
            if manual || shape.blank_device {
                ""
            } else {
                era.device
            },
        );
        f.push("hasDetails", i64::from(shape.has_details));
        f.push("hasDetailsGPS", i64::from(shape.gps && shape.has_details));
        if shape.gps {
            let (lat, lon) = zone.center();
            let spread = if rng.chance(0.8) { 0.0006 } else { 0.03 };
            let micro = |v: f64, rng: &mut SplitMix64| {
                ((v + rng.uniform(-spread, spread)) * 1e6).round() as i64
            };
            f.push("startLatitude", json_fixed(micro(lat, rng), 6));
            f.push("startLongitude", json_fixed(micro(lon, rng), 6));
        }
        let hr_average =
            (150.0 - (pace - 330.0) * 0.35 + rng.normal() * 6.0).clamp(112.0, 172.0) as i64;
        let hr_max = hr_average + rng.range(8, 32);
        let hr_min = (hr_average - rng.range(20, 90)).max(52);
        match shape.heart_rate {
            HeartRate::Full => {
                f.push("heartRateMax", hr_max);
                f.push("heartRateMin", hr_min);
                f.push("heartRateAverage", hr_average);
            }
            HeartRate::MaxAverage => {
                f.push("heartRateMax", hr_max);
                f.push("heartRateAverage", hr_average);
            }
            HeartRate::MaxMin => {
                f.push("heartRateMax", hr_max);
                f.push("heartRateMin", hr_min);
            }
            HeartRate::Absent => {}
        }
        match shape.cadence {
            Cadence::Full => {
                let average = rng.range(162, 178);
                let max = if rng.chance(0.03) {
                    rng.range(200, 240)
                } else {
                    average + rng.range(4, 22)
                };
                let min = if rng.chance(0.04) {
                    rng.range(32, 70)
                } else {
                    average - rng.range(4, 80)
                };
                f.push("cadenceMax", max);
                f.push("cadenceMin", min);
                f.push("cadenceAverage", average);
            }
            Cadence::NoMin => {
                let average = rng.range(62, 90);
                f.push("cadenceMax", average + rng.range(3, 30));
                f.push("cadenceAverage", average);
            }
            Cadence::Absent => {}
        }
        if shape.gps {
            let month = usize::from(u8::from(day.month())) - 1;
            let hour_bonus = match at.hour() {
                11..=17 => 3.5,
                18..=21 => 1.5,
                _ => 0.0,
            };
            let temperature =
                ((zone.climate()[month] + hour_bonus + rng.normal() * 4.0) * 100.0).round() / 100.0;
            let humidity = (72.0 + rng.normal() * 14.0).round().clamp(15.0, 100.0) as i64;
            let wind = (15.0 + rng.normal() * 7.0).round().clamp(0.0, 39.0) as i64;
            let w = wind as f64;
            let apparent = if temperature <= 10.0 {
                temperature - w * 0.12 * (1.0 + (10.0 - temperature) / 15.0)
            } else if temperature < 20.0 {
                temperature
            } else {
                temperature + ((humidity as f64 - 40.0) * 0.07).max(0.0)
            };
            let chill = if temperature >= 22.0 {
                temperature
            } else {
                temperature - (2.0 + w * 0.25 + rng.uniform(0.0, 1.5))
            };
            let weather = if apparent < -14.0 {
                "extremecold"
            } else if wind >= 34 {
                "extremewind"
            } else {
                *rng.weighted(&[
                    ("clear", 45),
                    ("partlycloudy", 30),
                    ("cloudy", 16),
                    ("drizzle", 4),
                    ("extremerain", 3),
                    ("storm", 2),
                ])
            };
            let hundredths = |v: f64| json_fixed((v * 100.0).round() as i64, 2);
            f.push("weatherType", weather);
            f.push("temperature", hundredths(temperature));
            f.push("humidity", humidity);
            f.push("windSpeed", wind);
            f.push("temperatureApparent", hundredths(apparent));
            if shape.wind_chill {
                f.push("temperatureWindChill", hundredths(chill));
            }
        }
        if shape.felt_terrain {
            f.push("howFelt", "none");
            f.push(
                "terrain",
                if shape.treadmill { "treadmill" } else { "none" },
            );
        }
        f.push("isRace", 0);
        f.push("isTreadmill", i64::from(shape.treadmill));
        f.push("isBadHR", 0);
        f.push("isBadElevation", 0);
        f.push(
            "syncDateTimeUTC",
            sync.map_or(Value::Null, |s| {
                timefmt::format_utc_seconds(timefmt::to_sql_smalldatetime(s)).into()
            }),
        );
        f.push("dateCreatedUTC", timefmt::format_utc_millis(created));
        f.push("dateUpdatedUTC", timefmt::format_utc_millis(updated));
        Draft {
            fields: f,
            created,
            start_utc,
        }
    }
}

/// How many runs on each day of the history (index 0 is the first day).
fn plan_counts(rng: &mut SplitMix64, spec: &Spec, first: Date, today: Date) -> Vec<u8> {
    let days = (today - first).whole_days().max(0) as usize;
    let streak_from = days - spec.streak_days as usize;
    let gap = streak_from - 1;
    let mut counts = vec![0u8; days];
    let extra = |rng: &mut SplitMix64, scale: f64| {
        let r = rng.next_f64();
        if r < spec.triple_p * scale {
            3
        } else if r < (spec.triple_p + spec.double_p) * scale {
            2
        } else {
            1
        }
    };
    match spec.before {
        Before::Sporadic => {
            let mut block = 0;
            while block < gap {
                let len = (gap - block).min(7);
                let mut offsets: Vec<usize> = (0..7).collect();
                let runs = 3 + rng.below(2) as usize;
                for i in 0..runs {
                    let j = i + rng.below((7 - i) as u64) as usize;
                    offsets.swap(i, j);
                    if offsets[i] < len {
                        counts[block + offsets[i]] = extra(rng, 0.5);
                    }
                }
                block += 7;
            }
        }
        Before::NearDaily(p) => {
            for count in counts.iter_mut().take(gap) {
                if rng.chance(p) {
                    *count = extra(rng, 1.0);
                }
            }
        }
    }
    for (i, count) in counts.iter_mut().enumerate().skip(streak_from) {
        let before_today = (days - i) as i64;
        *count = match forced(before_today) {
            Some(Force::Double) => 2,
            Some(Force::Triple) => 3,
            Some(_) => 1,
            // The last two days stay simple so that they are synced before today starts in UTC.
            None if before_today <= 2 => 1,
            None => extra(rng, 1.0),
        };
    }
    counts
}

fn plan_trips(rng: &mut SplitMix64, first: Date, today: Date) -> Vec<Trip> {
    let mut trips = Vec::new();
    let last_allowed = today - Duration::days(40);
    let mut start = first + Duration::days(rng.range(20, 120));
    while start + Duration::days(14) < last_allowed {
        let length = rng.range(3, 12);
        trips.push(Trip {
            first: start,
            last: start + Duration::days(length - 1),
            zone: *rng.weighted(TRIP_ZONES),
        });
        start += Duration::days(length + rng.range(60, 200));
    }
    let (from, to) = FORCED_TRIP;
    trips.push(Trip {
        first: today - Duration::days(from),
        last: today - Duration::days(to),
        zone: *rng.weighted(TRIP_ZONES),
    });
    trips
}

/// Generates the activities of a profile, in no particular order.
pub(crate) fn generate(profile: Profile, seed: u64, today: Date) -> Vec<Fields> {
    let spec = spec(profile);
    let mut rng = SplitMix64::new(seed ^ spec.salt);
    let history = i64::from(spec.streak_days + 1 + spec.before_days);
    let first = today - Duration::days(history);
    let import_days = spec
        .import_days
        .map_or((history - 13 * 365).max(0), i64::from);
    let joined = (first + Duration::days(import_days))
        .with_hms_milli(23, 30, 7, 447)
        .unwrap_or(first.midnight());
    let counts = plan_counts(&mut rng, &spec, first, today);
    let trips = plan_trips(&mut rng, first, today);
    let mut generator = Generator {
        rng,
        cutoff: today.midnight() - Duration::minutes(1),
        joined,
        imported: 0,
        batch: None,
    };

    let mut drafts = Vec::with_capacity(counts.iter().map(|&c| usize::from(c)).sum());
    let mut trip_index = 0;
    for (i, &count) in counts.iter().enumerate() {
        if count == 0 {
            continue;
        }
        let day = first + Duration::days(i as i64);
        while trip_index < trips.len() && trips[trip_index].last < day {
            trip_index += 1;
        }
        let zone = trips
            .get(trip_index)
            .filter(|t| t.first <= day)
            .map_or(Zone::Home, |t| t.zone);
        let before_today = (today - day).whole_days();
        let force = forced(before_today);
        let manual_clock = era_for(day).kind == EraKind::Logbook || force == Some(Force::Manual);
        let times = generator.pick_times(count, before_today <= 2, force, manual_clock);
        for (slot, at) in times.into_iter().enumerate() {
            let role = [Role::Main, Role::Second, Role::Third][slot.min(2)];
            drafts.push(generator.run(day, at, zone, role, force, count > 1));
        }
    }

    // Ids follow creation order (a run created late gets a later id than runs that started after it).
    drafts.sort_by(|a, b| {
        a.created
            .cmp(&b.created)
            .then(a.start_utc.cmp(&b.start_utc))
    });
    let mut previous = 0i64;
    for draft in &mut drafts {
        let id = id_floor(draft.created).max(previous + 1 + generator.rng.range(0, 2));
        draft.fields.set("activityId", Value::from(id));
        previous = id;
    }
    drafts.into_iter().map(|d| d.fields).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::activity::Activity;
    use crate::stats;

    const TODAY: Date = date!(2025 - 06 - 15);

    fn activities(profile: Profile, seed: u64) -> Vec<Activity> {
        generate(profile, seed, TODAY)
            .into_iter()
            .map(|f| Activity::from_fields(f).unwrap())
            .collect()
    }

    #[test]
    fn small_profile_has_its_streak_and_every_feature() {
        let list = activities(Profile::Small, 42);
        assert!((60..=85).contains(&list.len()), "{} activities", list.len());
        let days = stats::run_days(list.iter());
        let all = stats::streaks(&days);
        let current = stats::current(&all, TODAY).unwrap();
        assert_eq!(current.days, 52);
        assert_eq!(current.end(), TODAY.previous_day().unwrap());
        assert_eq!(stats::longest(&all), Some(current));
        assert!(
            !days.contains(&(current.start - Duration::days(1))),
            "gap day before the streak"
        );

        let has = |key: &str, value: Value| list.iter().any(|a| a.fields.get(key) == Some(&value));
        assert!(has("isTreadmill", Value::from(1)));
        assert!(has("source", Value::from("manual")));
        assert!(
            list.iter().any(|a| a.fields.get("heartRateMax").is_none()
                && a.fields.get("startLatitude").is_some())
        );
        assert!(
            list.iter()
                .any(|a| a.start.wall.hour() == 23 && a.start.wall.minute() >= 50)
        );
        assert!(
            list.iter()
                .any(|a| a.start.wall.hour() == 0 && a.start.wall.minute() < 10)
        );
        assert!(list.iter().any(|a| {
            a.offset()
                .is_some_and(|o| o.whole_hours() > -4 || o.whole_hours() < -5)
        }));
    }

    #[test]
    fn same_seed_same_data_other_seed_other_data() {
        let a: Vec<String> = generate(Profile::Small, 7, TODAY)
            .iter()
            .map(Fields::to_json)
            .collect();
        let b: Vec<String> = generate(Profile::Small, 7, TODAY)
            .iter()
            .map(Fields::to_json)
            .collect();
        let c: Vec<String> = generate(Profile::Small, 8, TODAY)
            .iter()
            .map(Fields::to_json)
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn streaker_looks_like_the_real_samples() {
        let list = activities(Profile::Streaker, 42);
        assert!(
            (4_500..=5_200).contains(&list.len()),
            "{} activities",
            list.len()
        );
        let days = stats::run_days(list.iter());
        let all = stats::streaks(&days);
        let current = stats::current(&all, TODAY).unwrap();
        assert_eq!(current.days, 4_330);
        assert_eq!(stats::longest(&all), Some(current));

        let ids: BTreeSet<i64> = list.iter().map(|a| a.id).collect();
        assert_eq!(ids.len(), list.len(), "ids are unique");

        // Keys always in the sample order, and only the sample's kinds of values.
        let sample_keys: Vec<&str> = crate::activity::KEY_ORDER.to_vec();
        let mut key_sets = BTreeSet::new();
        let mut offsets = BTreeSet::new();
        let mut fraction_lengths = BTreeMap::new();
        for a in &list {
            let keys: Vec<&str> = a.fields.iter().map(|(k, _)| k).collect();
            let mut positions = keys
                .iter()
                .map(|k| sample_keys.iter().position(|s| s == k).unwrap());
            let mut last = positions.next().unwrap();
            for p in positions {
                assert!(p > last, "key order of {keys:?}");
                last = p;
            }
            key_sets.insert(keys.join(","));
            let start = a
                .fields
                .get("startDateTimeLocal")
                .unwrap()
                .as_str()
                .unwrap();
            assert_eq!(&start[17..19], "00", "{start}");
            offsets.insert(start[19..].to_owned());
            let created = a.fields.get("dateCreatedUTC").unwrap().as_str().unwrap();
            let fraction = created.split('.').nth(1).map_or(0, str::len);
            assert!(fraction <= 3 && !created.ends_with('Z'));
            if fraction > 0 {
                assert!(!created.ends_with('0'), "trailing zeros trimmed: {created}");
            }
            *fraction_lengths.entry(fraction).or_insert(0) += 1;
            assert!(a.updated >= a.created);
            assert!(a.created > a.start_utc());
            assert!((1.6..=42.2).contains(&a.distance_km), "{}", a.distance_km);
            for flag in [
                "hasDetails",
                "hasDetailsGPS",
                "isRace",
                "isTreadmill",
                "isBadHR",
                "isBadElevation",
            ] {
                let v = a.fields.get(flag).unwrap().as_i64().unwrap();
                assert!(v == 0 || v == 1);
            }
            let treadmill = a.fields.get("isTreadmill") == Some(&Value::from(1));
            assert_eq!(
                treadmill,
                a.fields.get("terrain") == Some(&Value::from("treadmill"))
            );
            if treadmill {
                assert!(
                    a.fields.get("startLatitude").is_none()
                        && a.fields.get("weatherType").is_none()
                );
            }
            assert_eq!(
                a.fields.get("startLatitude").is_some(),
                a.fields.get("weatherType").is_some()
            );
            if a.fields.get("source") == Some(&Value::from("manual")) {
                assert_eq!(a.fields.get("syncDateTimeUTC"), Some(&Value::Null));
                assert_eq!(a.fields.get("calories"), Some(&Value::Null));
                assert!(a.fields.get("howFelt").is_none() && a.fields.get("terrain").is_none());
            }
        }
        assert!(key_sets.len() >= 8, "{} key sets", key_sets.len());
        for offset in ["-05:00", "-04:00", "+01:00", "+02:00", "+09:00", "-08:00"] {
            assert!(offsets.contains(offset), "offset {offset} in {offsets:?}");
        }
        assert_eq!(
            fraction_lengths.keys().copied().collect::<Vec<_>>(),
            [0, 1, 2, 3],
            "{fraction_lengths:?}"
        );
        let doubles = list.len() - days.len();
        assert!(doubles > 200, "{doubles} extra runs on the same day");
        // Ids mostly follow start time, with a few inversions.
        let mut by_start: Vec<&Activity> = list.iter().collect();
        by_start.sort_by_key(|a| a.start_utc());
        let inversions = by_start.windows(2).filter(|w| w[0].id > w[1].id).count();
        assert!((1..100).contains(&inversions), "{inversions} inversions");
        let late = list
            .iter()
            .filter(|a| (a.created - a.start_utc()).whole_days() > 30)
            .count();
        assert!(late > 20, "{late} created more than 30 days later");
    }

    #[test]
    fn today_minus_one_is_synced_before_today_starts() {
        let list = activities(Profile::Streaker, 3);
        let cutoff = TODAY.midnight();
        assert!(
            list.iter()
                .all(|a| a.created < cutoff && a.updated < cutoff)
        );
    }
}
