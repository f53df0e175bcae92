//! No read touches another user's rows: every statement the view functions run (read through
//! `auto_explain`, nested statements included, as the service role the API uses) has a way to
//! reach the runs and their summaries through an index condition on the user.
//!
//! Plans are taken with sequential scans priced out (`enable_seqscan = off`), so what is
//! checked is that an index path on the user exists, not which path the planner prefers today.
//! That preference swings on statistics autovacuum gathers when it likes: a table analysed
//! while it held one user's rows looks as if every row were that user's, and a scan of a small
//! summary table then costs less than its index. A read with no such index path still scans
//! (disabled is only expensive), and an index read without the user in its condition (a walk
//! over every user's entries) is caught as well.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;

use common::{psql, stack_env};
use serde_json::Value;
use stk_core::UserId;
use stk_local::summaries::view_calls;

/// The tables that hold every user's rows, and the way the views read them.
const PER_USER_TABLES: &[&str] = &[
    "runs",
    "run_days",
    "run_weeks",
    "run_months",
    "run_totals",
    "streaks",
];

const LABEL: &str = "query plans test";

/// 60 users with 400 runs each over about three years, with gaps (so streaks, weeks and months
/// all have many rows), loaded once and kept for later runs. The tests of this file run as
/// separate processes at once; the lock makes one of them load and the other wait for it.
fn users() -> Vec<String> {
    psql(&format!(
        "select pg_advisory_xact_lock(hashtext('{LABEL}'));
         do $$ begin
             if (select count(*) from public.users where display_name = '{LABEL}') < 60 then
                 delete from public.users where display_name = '{LABEL}';
                 with u as (
                     insert into public.users (display_name)
                     select '{LABEL}' from generate_series(1, 60)
                     returning id
                 )
                 insert into public.runs (user_id, source, source_activity_id, start_local,
                     local_date, distance_km, duration_s, raw)
                 select u.id, 'smashrun', g, t, t::date, 3 + (g % 9), 1200 + (g * 37) % 2400, '{{}}'
                 from u, generate_series(1, 400) g,
                     lateral (select timestamp '2023-01-01 07:00' + (g * 2.7) * interval '1 day'
                         as t) s;
             end if;
         end $$;"
    ));
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
         set enable_seqscan = off;
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

/// The indexes of the per-user tables, each with whether its first column is the user: only
/// those reach one user's entries without walking everyone's.
struct Indexes(Vec<(String, bool)>);

impl Indexes {
    fn read() -> Self {
        let tables = PER_USER_TABLES.join("','");
        let rows = psql(&format!(
            "select i.relname, a.attname = 'user_id'
             from pg_index x
             join pg_class i on i.oid = x.indexrelid
             join pg_class t on t.oid = x.indrelid
             join pg_namespace n on n.oid = t.relnamespace and n.nspname = 'public'
             join pg_attribute a on a.attrelid = t.oid and a.attnum = x.indkey[0]
             where t.relname in ('{tables}')"
        ));
        Self(
            rows.iter()
                .map(|row| {
                    let (name, leads) = row.split_once('|').unwrap();
                    (name.to_owned(), leads == "t")
                })
                .collect(),
        )
    }

    /// Reads of per-user tables anywhere in a plan tree that are not narrowed to one user by
    /// an index: scans of the table, and index reads through an index that does not lead with
    /// the user or whose condition leaves the user out.
    fn crossings(&self, node: &Value, found: &mut Vec<String>) {
        let kind = node["Node Type"].as_str().unwrap_or("read");
        if let Some(table) = node["Relation Name"].as_str()
            && PER_USER_TABLES.contains(&table)
            && !matches!(kind, "Index Scan" | "Index Only Scan" | "Bitmap Heap Scan")
        {
            found.push(format!("{kind} of {table}"));
        }
        if let Some(index) = node["Index Name"].as_str()
            && let Some((_, leads)) = self.0.iter().find(|(name, _)| name == index)
        {
            let condition = node["Index Cond"].as_str().unwrap_or_default();
            if !leads || !condition.contains("user_id") {
                found.push(format!("{kind} of {index} on {condition:?}"));
            }
        }
        for child in node["Plans"].as_array().into_iter().flatten() {
            self.crossings(child, found);
        }
    }

    /// What `crossings` finds in the plans of `sql`.
    fn crossings_of(&self, sql: &str) -> Vec<String> {
        let mut found = Vec::new();
        for plan in plans(sql) {
            self.crossings(&plan["Plan"], &mut found);
        }
        found
    }
}

#[test]
fn every_view_reads_the_users_rows_through_an_index() {
    let users = users();
    let indexes = Indexes::read();
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
                indexes.crossings(&plan["Plan"], &mut found);
                if !found.is_empty() {
                    bad.push(format!("{}: {found:?} in\n{text}", call.label));
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

/// The test's own check, on reads that do cross users: one no index serves, which scans
/// even when scans are priced out, and one an index on the user serves without the user.
#[test]
fn a_read_of_every_users_rows_is_caught() {
    users();
    let indexes = Indexes::read();
    assert_eq!(
        indexes.crossings_of("select count(*) from public.runs where distance_km > 100"),
        vec!["Seq Scan of runs"]
    );
    let across_users = indexes
        .crossings_of("select count(*) from public.run_days where local_date = '2024-01-01'");
    assert_eq!(across_users.len(), 1, "{across_users:?}");
    assert!(
        across_users[0].contains("of run_days_pkey on \"(local_date ="),
        "{across_users:?}"
    );
}

/// An index whose first column is not the user, though its condition names the user, walks
/// every user's entries: a plan read through one is caught. (No index of the schema is like
/// that, so the plan is written out.)
#[test]
fn an_index_that_does_not_lead_with_the_user_is_caught() {
    let indexes = Indexes(vec![("run_months_by_month".to_owned(), false)]);
    let plan = serde_json::json!({
        "Node Type": "Limit",
        "Plans": [{
            "Node Type": "Index Scan",
            "Relation Name": "run_months",
            "Index Name": "run_months_by_month",
            "Index Cond": "(user_id = $1)",
        }],
    });
    let mut found = Vec::new();
    indexes.crossings(&plan, &mut found);
    assert_eq!(
        found,
        vec!["Index Scan of run_months_by_month on \"(user_id = $1)\""]
    );
}
