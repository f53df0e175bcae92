//! Property test on the real database: whatever happens to a runner's history (runs inserted,
//! edited, moved across midnight, backdated, marked deleted, deleted, restored; the streak
//! minimum or the time zone changed), the summaries the views read equal what the from-scratch
//! SQL computes from the runs. Bounded: 40 histories (PROPTEST_CASES overrides).

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;

use common::psql;
use proptest::prelude::*;
use serde_json::{Value, json};
use stk_core::UserId;
use stk_local::summaries::{differences, view_calls};
use time::macros::date;

/// The first day of the generated histories; they span 60 days from it.
const BASE: time::Date = date!(2026 - 01 - 25);

#[derive(Debug, Clone)]
struct RunSpec {
    id: i64,
    day: i64,
    minute: i64,
    /// Metres; 0 is a run without a distance.
    metres: u32,
    duration_s: u32,
}

#[derive(Debug, Clone)]
enum Op {
    /// One `upsert_runs` call, as a sync page makes it (new runs, edits, restores).
    Upsert(Vec<RunSpec>),
    /// Moves a run's start by some minutes, possibly into another day.
    Shift {
        id: i64,
        minutes: i64,
    },
    /// What a reconciliation does to a run SmashRun no longer lists.
    MarkDeleted(Vec<i64>),
    /// A row removed outright.
    Delete(Vec<i64>),
    SetMinimum(f64),
    SetTimeZone(Option<&'static str>),
    /// Summaries damaged behind the triggers' back (as a restore with triggers off would)...
    Damage,
    /// ...and rebuilt from the runs, as the runbook says.
    Rebuild,
}

fn run_spec() -> impl Strategy<Value = RunSpec> {
    (
        0i64..30,
        0i64..60,
        0i64..1440,
        prop_oneof![1 => Just(0u32), 9 => 500u32..25_000],
        60u32..10_000,
    )
        .prop_map(|(id, day, minute, metres, duration_s)| RunSpec {
            id,
            day,
            minute,
            metres,
            duration_s,
        })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => prop::collection::vec(run_spec(), 1..12).prop_map(Op::Upsert),
        2 => (0i64..30, -180i64..180).prop_map(|(id, minutes)| Op::Shift { id, minutes }),
        1 => prop::collection::vec(0i64..30, 1..4).prop_map(Op::MarkDeleted),
        1 => prop::collection::vec(0i64..30, 1..3).prop_map(Op::Delete),
        1 => prop::sample::select(vec![0.0, 1.5, 5.0, 10.0]).prop_map(Op::SetMinimum),
        1 => prop::sample::select(vec![None, Some("Europe/Paris"), Some("Pacific/Kiritimati")])
            .prop_map(Op::SetTimeZone),
    ]
}

/// A run as `upsert_runs` takes it. Each activity's distance is nudged by its id so no two runs
/// tie for the longest (a tie has no defined winner in either form).
fn run_json(spec: &RunSpec) -> Value {
    let start =
        BASE.midnight() + time::Duration::days(spec.day) + time::Duration::minutes(spec.minute);
    let km = if spec.metres == 0 {
        0.0
    } else {
        f64::from(spec.metres) / 1000.0 + spec.id as f64 * 1e-7
    };
    let start_local = start
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]"
        ))
        .unwrap();
    json!({
        "source_activity_id": spec.id,
        "start_local": start_local,
        "local_date": start.date().to_string(),
        "distance_km": km,
        "duration_s": spec.duration_s,
        "raw": {"activityId": spec.id, "start": start_local, "km": km, "s": spec.duration_s},
    })
}

fn statement(user: &str, op: &Op) -> String {
    let ids = |ids: &[i64]| ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let runs = format!("user_id = '{user}' and source = 'smashrun'");
    match op {
        Op::Upsert(specs) => {
            // One statement cannot touch a row twice: the last spec of an id wins.
            let mut page: Vec<&RunSpec> = Vec::new();
            for spec in specs.iter().rev() {
                if !page.iter().any(|s| s.id == spec.id) {
                    page.push(spec);
                }
            }
            let page: Vec<Value> = page.into_iter().map(run_json).collect();
            format!(
                "select public.upsert_runs('{user}', 'smashrun', '{}'::jsonb, gen_random_uuid(), null);",
                Value::Array(page).to_string().replace('\'', "''")
            )
        }
        Op::Shift { id, minutes } => format!(
            "update public.runs set start_local = start_local + interval '{minutes} minutes', \
             local_date = (start_local + interval '{minutes} minutes')::date \
             where {runs} and source_activity_id = {id};"
        ),
        Op::MarkDeleted(list) => format!(
            "update public.runs set deleted_at = now() \
             where {runs} and deleted_at is null and source_activity_id in ({});",
            ids(list)
        ),
        Op::Delete(list) => format!(
            "delete from public.runs where {runs} and source_activity_id in ({});",
            ids(list)
        ),
        Op::SetMinimum(km) => {
            format!("update public.users set min_streak_distance_km = {km} where id = '{user}';")
        }
        Op::Damage => format!(
            "delete from public.run_days where user_id = '{user}'; \
             update public.run_totals set runs = runs + 7 where user_id = '{user}'; \
             insert into public.streaks values ('{user}', '1990-01-01', '1990-01-03', 3, 3, 30);"
        ),
        Op::Rebuild => format!("select public.rebuild_run_summaries('{user}');"),
        Op::SetTimeZone(zone) => format!(
            "update public.users set time_zone = {} where id = '{user}';",
            zone.map_or("null".to_owned(), |z| format!("'{z}'"))
        ),
    }
}

/// Applies the history to a new user, each step in a transaction of its own (as the worker's
/// calls are), and returns every view's maintained and from-scratch answers for two "todays".
fn replay(ops: &[Op]) -> Vec<(String, Value, Value)> {
    let user = psql(
        "insert into public.users (display_name) values ('summaries property test') returning id",
    )
    .remove(0);
    let script: Vec<String> = ops.iter().map(|op| statement(&user, op)).collect();
    psql(
        &script
            .iter()
            .map(|s| format!("begin; {s} commit;"))
            .collect::<Vec<_>>()
            .join("\n"),
    );
    let id = UserId::new(user.parse().unwrap());
    let calls: Vec<_> = [
        BASE + time::Duration::days(40),
        BASE + time::Duration::days(61),
    ]
    .into_iter()
    .flat_map(|today| {
        view_calls(id, today)
            .into_iter()
            .map(move |call| (format!("{} (today {today})", call.label), call))
    })
    .collect();
    let rows = psql(
        &calls
            .iter()
            .map(|(_, call)| {
                format!(
                    "select ({})::text || E'\\t' || ({})::text;",
                    call.sql(call.maintained),
                    call.sql(call.reference)
                )
            })
            .collect::<String>(),
    );
    assert_eq!(rows.len(), calls.len(), "{rows:?}");
    let answers = calls
        .into_iter()
        .zip(rows)
        .map(|((label, _), row)| {
            let (maintained, reference) = row.split_once('\t').unwrap();
            (
                label,
                serde_json::from_str(maintained).unwrap(),
                serde_json::from_str(reference).unwrap(),
            )
        })
        .collect();
    psql(&format!("delete from public.users where id = '{user}'"));
    answers
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 40,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn maintained_summaries_equal_the_from_scratch_answers(ops in prop::collection::vec(op(), 1..30)) {
        for (view, maintained, reference) in replay(&ops) {
            let diff = differences(&maintained, &reference);
            prop_assert!(diff.is_empty(), "{view}: {diff:#?}");
        }
    }
}

/// The property above could pass on empty answers; this history has every part of a view set,
/// and its summaries are damaged then rebuilt on the way.
#[test]
fn a_full_history_exercises_every_part_of_the_views() {
    let specs: Vec<RunSpec> = (0..20)
        .map(|i| RunSpec {
            id: i,
            day: 20 + i,
            minute: 420,
            metres: 5_000 + 100 * u32::try_from(i).unwrap(),
            duration_s: 1_500,
        })
        .collect();
    let answers = replay(&[
        Op::Upsert(specs),
        Op::SetMinimum(5.0),
        Op::Damage,
        Op::Rebuild,
    ]);
    let (_, streak, _) = &answers[0];
    assert_eq!(streak["current"]["days"], 20, "{streak}");
    assert_eq!(streak["run_count"], 20);
    let (_, records, _) = &answers[3];
    assert!(records["fastest_pace"]["activity_id"].is_i64(), "{records}");
    assert!(records["best_week"]["runs"].is_i64(), "{records}");
    for (view, maintained, reference) in &answers {
        assert_eq!(
            differences(maintained, reference),
            Vec::<String>::new(),
            "{view}"
        );
    }
}
