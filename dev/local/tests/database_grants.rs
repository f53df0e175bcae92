//! The roles PostgREST lets the public act as (`anon`, `authenticated`) reach no table, view,
//! sequence or function, in SQL's own accounting and through the real PostgREST.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;

use common::{psql, stack_env};

/// Everything `anon` or `authenticated` may use, one `kind name to role` line each, in every
/// schema they can enter (the system catalogs aside: PostgREST serves only `public`).
const REACHABLE: &str = r"
with roles(role) as (values ('anon'), ('authenticated')),
schemas as (
    select n.oid, n.nspname, r.role from pg_namespace n cross join roles r
    where n.nspname not in ('pg_catalog', 'information_schema')
      and n.nspname not like 'pg\_toast%' and n.nspname not like 'pg\_temp%'
      and has_schema_privilege(r.role, n.oid, 'USAGE')
)
select format('%s %I.%I to %s',
              case c.relkind when 'v' then 'view' when 'm' then 'view' else 'table' end,
              s.nspname, c.relname, s.role)
from pg_class c join schemas s on s.oid = c.relnamespace
where c.relkind in ('r', 'p', 'v', 'm', 'f')
  and (has_table_privilege(s.role, c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
       or has_any_column_privilege(s.role, c.oid, 'SELECT, INSERT, UPDATE, REFERENCES'))
union all
select format('sequence %I.%I to %s', s.nspname, c.relname, s.role)
from pg_class c join schemas s on s.oid = c.relnamespace
where c.relkind = 'S' and has_sequence_privilege(s.role, c.oid, 'USAGE, SELECT, UPDATE')
union all
select format('function %I.%I(%s) to %s', s.nspname, p.proname,
              pg_get_function_identity_arguments(p.oid), s.role)
from pg_proc p join schemas s on s.oid = p.pronamespace
where has_function_privilege(s.role, p.oid, 'EXECUTE')
order by 1;
";

#[test]
fn anon_and_authenticated_reach_nothing() {
    assert_eq!(psql(REACHABLE), Vec::<String>::new());
}

/// The check itself can fail: a grant added by hand shows up, and a function created the way a
/// migration creates one does not (the default privileges give it to nobody but the service role).
#[test]
fn a_grant_is_seen_and_new_functions_are_granted_to_nobody() {
    let rows = psql(&format!(
        "begin;
         grant select on public.runs to anon;
         create function public.grants_probe() returns int language sql as 'select 1';
         {REACHABLE}
         select 'service_role may run the probe: ' || has_function_privilege('service_role', 'public.grants_probe()', 'EXECUTE');
         rollback;"
    ));
    assert_eq!(
        rows,
        [
            "table public.runs to anon",
            "service_role may run the probe: true"
        ]
    );
}

/// Through the real PostgREST with the anon key: no table answers and no function runs.
#[tokio::test]
async fn postgrest_serves_nothing_to_the_anon_key() {
    let env = stack_env();
    let base = env.get("SUPABASE_URL").unwrap().trim_end_matches('/');
    let anon = env.get("SUPABASE_ANON_KEY").unwrap();
    let http = reqwest::Client::new();
    let tables = psql("select tablename from pg_tables where schemaname = 'public' order by 1");
    // Every function with its arguments named (as PostgREST matches them), each given null;
    // trigger functions are left out, as no one can call them.
    let functions = psql(
        "select p.proname || '|' || pg_get_function_identity_arguments(p.oid) from pg_proc p \
         join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'public' \
         and p.prorettype <> 'trigger'::regtype order by 1",
    );
    assert!(tables.iter().any(|t| t == "runs"), "{tables:?}");
    assert!(
        functions.iter().any(|f| f.starts_with("upsert_runs|")),
        "{functions:?}"
    );
    let mut answered = Vec::new();
    for table in &tables {
        let status = http
            .get(format!("{base}/{table}?limit=1"))
            .bearer_auth(anon)
            .header("apikey", anon)
            .send()
            .await
            .unwrap()
            .status();
        if status.as_u16() != 401 {
            answered.push(format!("GET /{table}: {status}"));
        }
    }
    for function in &functions {
        let (name, args) = function.split_once('|').unwrap();
        let request = http
            .post(format!("{base}/rpc/{name}"))
            .bearer_auth(anon)
            .header("apikey", anon);
        // A single unnamed `text` parameter takes the body as it is, sent as text/plain.
        let request = if args == "text" {
            request.header("Content-Type", "text/plain").body("{}")
        } else {
            let body: serde_json::Map<String, serde_json::Value> = args
                .split(", ")
                .filter_map(|arg| arg.split_whitespace().next())
                .map(|arg| (arg.to_owned(), serde_json::Value::Null))
                .collect();
            request.json(&body)
        };
        let status = request.send().await.unwrap().status();
        // 401 is PostgREST's answer to permission denied for the anon role.
        if status.as_u16() != 401 {
            answered.push(format!("POST /rpc/{name} ({args}): {status}"));
        }
    }
    assert_eq!(answered, Vec::<String>::new());
}
