//! No read touches another user's rows: every statement the view functions run (read through
//! `auto_explain`, nested statements included, as the service role the API uses) reaches the
//! runs and their summaries through an index on the user, never by a sequential scan.
//!
//! The plans are taken on a store of 60 users right after their bulk load, with no statistics
//! gathered since, which is when a planner is most tempted to scan.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;

use common::{psql, stack_env};
use serde_json::Value;
use stk_core::UserId;
use stk_local::summaries::view_calls;

/// The tables that hold every user's rows, and the way the views read them.
const PER_USER_TABLES: &[&str] = &["runs", "run_days", "run_weeks", "run_months", "streaks"];

const LABEL: &str = "query plans test";

/// 60 users with 400 runs each over about three years, with gaps (so streaks, weeks and months
/// all have many rows), loaded once and kept for later runs.
fn users() -> Vec<String> {
    let count = |sql: &str| psql(sql).remove(0).parse::<u32>().unwrap();
    if count(&format!(
        "select count(*) from public.users where display_name = '{LABEL}'"
    )) < 60
    {
        psql(&format!(
            "delete from public.users where display_name = '{LABEL}';
             with u as (
                 insert into public.users (display_name)
                 select '{LABEL}' from generate_series(1, 60)
                 returning id
             )
             insert into public.runs (user_id, source, source_activity_id, start_local, local_date,
                 distance_km, duration_s, raw)
             select u.id, 'smashrun', g, t, t::date, 3 + (g % 9), 1200 + (g * 37) % 2400, '{{}}'
             from u, generate_series(1, 400) g,
                 lateral (select timestamp '2023-01-01 07:00' + (g * 2.7) * interval '1 day' as t) s;"
        ));
    }
    psql(&format!(
        "select id from public.users where display_name = '{LABEL}' order by id limit 3"
    ))
}

/// Every plan `auto_explain` logs while `sql` runs, as JSON.
fn plans(sql: &str) -> Vec<Value> {
    let url = stack_env().get("DATABASE_URL").unwrap().to_owned();
    let script = format!(
        "load 'auto_explain';
         set auto_explain.log_min_duration = 0;
         set auto_explain.log_nested_statements = on;
         set auto_explain.log_format = json;
         set auto_explain.log_level = notice;
         set client_min_messages = notice;
         set role service_role;
         {sql};"
    );
    let stderr = stk_local::psql::run(&url, &script).unwrap().notices;
    stderr
        .split("plan:")
        .skip(1)
        .map(|chunk| {
            let json = chunk.split("NOTICE:").next().unwrap();
            serde_json::from_str(json.trim()).unwrap()
        })
        .collect()
}

/// Sequential scans of per-user tables anywhere in a plan tree.
fn scans(node: &Value, found: &mut Vec<String>) {
    if node["Node Type"] == "Seq Scan"
        && let Some(table) = node["Relation Name"].as_str()
        && PER_USER_TABLES.contains(&table)
    {
        found.push(table.to_owned());
    }
    for child in node["Plans"].as_array().into_iter().flatten() {
        scans(child, found);
    }
}

#[test]
fn every_view_reads_the_users_rows_through_an_index() {
    let users = users();
    let mut seen = Vec::new();
    let mut bad = Vec::new();
    for user in &users {
        let id = UserId::new(user.parse().unwrap());
        for call in view_calls(id, time::macros::date!(2025 - 06 - 01)) {
            let sql = format!("select {}", call.sql(call.maintained));
            let plans = plans(&sql);
            assert!(!plans.is_empty(), "auto_explain logged no plan for {sql}");
            for plan in &plans {
                let text = plan["Query Text"].as_str().unwrap_or_default().to_owned();
                seen.push(text.clone());
                let mut found = Vec::new();
                scans(&plan["Plan"], &mut found);
                if !found.is_empty() {
                    bad.push(format!("{}: seq scan of {found:?} in\n{text}", call.label));
                }
            }
        }
    }
    // The nested statements were seen, not just the top-level call.
    assert!(
        seen.iter().any(|q| q.contains("public.streaks")),
        "no statement of the views was explained: {seen:#?}"
    );
    assert!(bad.is_empty(), "{}", bad.join("\n\n"));
}

/// The test's own check, on a plan that does scan: a view that reads all runs is caught.
#[test]
fn a_scan_of_every_users_runs_is_caught() {
    users();
    let plans = plans("select count(*) from public.runs where distance_km > 100");
    let mut found = Vec::new();
    for plan in &plans {
        scans(&plan["Plan"], &mut found);
    }
    assert_eq!(found, vec!["runs"]);
}
