//! The runner's views read per-user summaries that every write keeps current (migration
//! `20261202000004`); the SQL that computes them from the runs stays beside them as the
//! reference. This module names each view with its reference and compares their answers:
//! `stk-local check` and the property test on the real database both use it.

use serde_json::{Map, Value, json};
use stk_core::UserId;

use crate::postgrest::PostgrestAdmin;

/// One call of a view: the maintained function, its from-scratch reference, the arguments.
#[derive(Debug, Clone)]
pub struct ViewCall {
    pub label: &'static str,
    pub maintained: &'static str,
    pub reference: &'static str,
    pub args: Map<String, Value>,
}

impl ViewCall {
    /// The call as SQL, with named arguments (`f(p_user_id => '...')`).
    pub fn sql(&self, function: &str) -> String {
        sql_call(function, &self.args)
    }
}

/// A call of `public.<function>` as SQL, with named arguments.
pub fn sql_call(function: &str, args: &Map<String, Value>) -> String {
    let args: Vec<String> = args
        .iter()
        .map(|(name, value)| {
            let literal = match value {
                Value::Null => "null".to_owned(),
                Value::String(s) => format!("'{}'", s.replace('\'', "''")),
                other => other.to_string(),
            };
            format!("{name} => {literal}")
        })
        .collect();
    format!("public.{function}({})", args.join(", "))
}

/// Every view with a maintained and a from-scratch form, as the API calls them, plus the run
/// list at a deep offset and over a range of dates. `today` pins the streak's "today" so both
/// forms answer for the same day.
pub fn view_calls(user: UserId, today: time::Date) -> Vec<ViewCall> {
    let call = |label, maintained, reference, extra: Value| {
        let mut args = Map::new();
        args.insert("p_user_id".into(), json!(user));
        if let Value::Object(extra) = extra {
            args.extend(extra);
        }
        ViewCall {
            label,
            maintained,
            reference,
            args,
        }
    };
    vec![
        call(
            "streak",
            "streak_summary",
            "streak_summary_from_scratch",
            json!({ "p_top": 5, "p_today": today.to_string() }),
        ),
        call(
            "stats",
            "overall_stats",
            "overall_stats_from_scratch",
            json!({}),
        ),
        call(
            "monthly",
            "monthly_totals",
            "monthly_totals_from_scratch",
            json!({ "p_limit": 1000 }),
        ),
        call("records", "records", "records_from_scratch", json!({})),
        call(
            "runs",
            "list_runs",
            "list_runs_from_scratch",
            json!({ "p_limit": 20, "p_offset": 0 }),
        ),
        call(
            "runs, deep page",
            "list_runs",
            "list_runs_from_scratch",
            json!({ "p_limit": 7, "p_offset": 23 }),
        ),
        call(
            "runs, range",
            "list_runs",
            "list_runs_from_scratch",
            json!({
                "p_since": (today - time::Duration::days(30)).to_string(),
                "p_until": (today - time::Duration::days(5)).to_string(),
                "p_limit": 10,
                "p_offset": 2,
            }),
        ),
    ]
}

/// Every view's maintained answer against its reference for `user`, through PostgREST as the
/// service role: the differences, each prefixed with the view's label.
pub async fn drift(
    postgrest: &PostgrestAdmin,
    user: UserId,
    today: time::Date,
) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for call in view_calls(user, today) {
        let maintained = postgrest.rpc(call.maintained, &call.args).await?;
        let reference = postgrest.rpc(call.reference, &call.args).await?;
        out.extend(
            differences(&maintained, &reference)
                .into_iter()
                .map(|d| format!("{}: {d}", call.label)),
        );
    }
    Ok(out)
}

/// Where two answers differ, as `path: maintained vs reference`. Floating-point sums are
/// compared to a relative 1e-9: the summaries add a user's runs day by day and month by month,
/// the reference in one pass, and the two orders of addition round differently.
pub fn differences(maintained: &Value, reference: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk("", maintained, reference, &mut out);
    out
}

fn walk(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for key in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                walk(
                    &format!("{path}.{key}"),
                    x.get(key).unwrap_or(&Value::Null),
                    y.get(key).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                walk(&format!("{path}[{i}]"), p, q, out);
            }
        }
        (Value::Number(x), Value::Number(y)) => {
            let (p, q) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            if (p - q).abs() > 1e-9 * p.abs().max(q.abs()).max(1.0) {
                out.push(format!("{path}: {x} vs {y}"));
            }
        }
        _ if a == b => {}
        _ => out.push(format!("{path}: {a} vs {b}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_rounded_differently_are_equal_and_anything_else_is_not() {
        let a = json!({"km": 196950.65776000006, "days": 3, "top": [{"end": "2026-01-02"}]});
        let b = json!({"km": 196950.6577600038, "days": 3, "top": [{"end": "2026-01-02"}]});
        assert_eq!(differences(&a, &b), Vec::<String>::new());

        let c = json!({"km": 196950.7, "days": 4, "top": [{"end": "2026-01-03"}], "extra": 1});
        assert_eq!(
            differences(&a, &c),
            vec![
                ".days: 3 vs 4",
                ".km: 196950.65776000006 vs 196950.7",
                ".top[0].end: \"2026-01-02\" vs \"2026-01-03\"",
                ".extra: null vs 1",
            ]
        );
        assert_eq!(
            differences(&json!({"top": [1]}), &json!({"top": [1, 2]})),
            vec![".top: [1] vs [1,2]"]
        );
    }

    #[test]
    fn a_call_reads_as_sql_with_named_arguments() {
        let user = UserId::new(uuid::Uuid::nil());
        let calls = view_calls(user, time::macros::date!(2026 - 12 - 01));
        assert_eq!(
            calls[0].sql(calls[0].reference),
            "public.streak_summary_from_scratch(p_today => '2026-12-01', p_top => 5, \
             p_user_id => '00000000-0000-0000-0000-000000000000')"
        );
    }
}
