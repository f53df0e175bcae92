//! `stk-local bench-reads`: times every read endpoint for a runner with the 20,614-run
//! `lifetime` history in a store that also holds 50 other runners of the same size (about a
//! million runs), right after loading them: no vacuum, no statistics gathered since. Each
//! endpoint is timed three ways, p50 and p95 over the same number of calls: through the API
//! (router, key check, PostgREST, PostgreSQL), straight on PostgREST, and inside PostgreSQL.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use reqwest::Method;
use serde_json::{Map, Value, json};
use smashrun_sandbox::{DataSource, Profile, SandboxConfig};
use stk_adapters::Adapters;
use stk_core::activity::Run;
use stk_core::auth::ApiKey;
use stk_core::ports::{ApiKeyStore, RunStore, SmashrunUser, SourceStore};
use stk_core::tokens::TokenSet;
use stk_core::{JobId, UserId};

use crate::postgrest::PostgrestAdmin;
use crate::stack_env::StackEnv;

/// Other runners in the store, each with a copy of the measured runner's history.
const OTHER_USERS: usize = 50;

/// The display name of the runners this benchmark creates (and removes at its next start).
const LABEL: &str = "bench-reads";

/// An endpoint, and what the API reads for it.
struct Endpoint {
    path: &'static str,
    read: Read,
}

enum Read {
    /// A view function, with its arguments.
    Function(&'static str, Map<String, Value>),
    /// `GET /settings`: the user's row of `users`.
    SettingsRow,
}

/// The endpoints, each reading `user`'s rows.
fn endpoints(user: UserId) -> Vec<Endpoint> {
    let e = |path, function, args: Value| {
        let mut args = args.as_object().cloned().unwrap_or_default();
        args.insert("p_user_id".into(), json!(user));
        Endpoint {
            path,
            read: Read::Function(function, args),
        }
    };
    let runs = |since: Value, until: Value, limit: u32, offset: u32| json!({ "p_since": since, "p_until": until, "p_limit": limit, "p_offset": offset });
    vec![
        e("/streak", "streak_summary", json!({ "p_top": 5 })),
        e("/stats", "overall_stats", json!({})),
        e(
            "/stats/monthly?limit=12",
            "monthly_totals",
            json!({ "p_limit": 12 }),
        ),
        e("/records", "records", json!({})),
        e(
            "/runs?limit=50",
            "list_runs",
            runs(Value::Null, Value::Null, 50, 0),
        ),
        e(
            "/runs?limit=50&offset=10000",
            "list_runs",
            runs(Value::Null, Value::Null, 50, 10_000),
        ),
        e(
            "/runs?since=2020-01-01&until=2020-12-31&limit=50",
            "list_runs",
            runs(json!("2020-01-01"), json!("2020-12-31"), 50, 0),
        ),
        e(
            "/runs/recent?limit=10",
            "list_runs",
            runs(Value::Null, Value::Null, 10, 0),
        ),
        Endpoint {
            path: "/settings",
            read: Read::SettingsRow,
        },
    ]
}

pub async fn bench_reads(adapters: &Adapters, env: &StackEnv, calls: usize) -> anyhow::Result<()> {
    let database = Database {
        url: env.get("DATABASE_URL")?.to_owned(),
    };
    let postgrest = PostgrestAdmin::new(env)?;

    let loading = Instant::now();
    let (user, key, runs) = load(adapters, &database).await?;
    let stored: u64 = database
        .query("select count(*) from public.runs")?
        .parse()?;
    println!(
        "store: {stored} runs ({runs} for the measured runner, {OTHER_USERS} others of the same size), \
         loaded in {:.0} s; measured right after the load",
        loading.elapsed().as_secs_f64()
    );

    let router = stk_api::router(stk_api::AppState::from_adapters(adapters));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, router).await });
    let http = reqwest::Client::new();

    println!(
        "\n{calls} calls per endpoint after 3 warm-up calls, milliseconds (p50 / p95)\n\
         {:<52} {:>15} {:>15} {:>15}",
        "", "API", "PostgREST", "SQL"
    );
    for endpoint in endpoints(user) {
        let api = time_calls(calls, || async {
            let response = http
                .get(format!("{base}{}", endpoint.path))
                .bearer_auth(key.expose())
                .send()
                .await?;
            anyhow::ensure!(
                response.status().is_success(),
                "{}: {}",
                endpoint.path,
                response.status()
            );
            response.bytes().await?;
            Ok(())
        })
        .await?;
        let postgrest = time_calls(calls, || async {
            let request = match &endpoint.read {
                Read::SettingsRow => postgrest.request(Method::GET, "users").query(&[
                    ("id", format!("eq.{user}")),
                    ("select", "time_zone,min_streak_distance_km".into()),
                ]),
                Read::Function(function, args) => postgrest
                    .request(Method::POST, &format!("rpc/{function}"))
                    .json(args),
            };
            let response = request.send().await?;
            anyhow::ensure!(response.status().is_success(), "{}", response.status());
            response.bytes().await?;
            Ok(())
        })
        .await?;
        let call = match &endpoint.read {
            Read::SettingsRow => {
                format!("(select time_zone from public.users where id = '{user}')")
            }
            Read::Function(function, args) => crate::summaries::sql_call(function, args),
        };
        let sql = database.time_in_sql(&call, calls)?;
        println!(
            "  {:<50} {:>15} {:>15} {:>15}",
            endpoint.path,
            api.show(),
            postgrest.show(),
            sql.show()
        );
    }
    Ok(())
}

/// p50 and p95 of a set of durations.
struct Spread {
    p50: Duration,
    p95: Duration,
}

impl Spread {
    fn of(mut times: Vec<Duration>) -> Self {
        times.sort();
        let at = |q: usize| times[(times.len() * q / 100).min(times.len() - 1)];
        Self {
            p50: at(50),
            p95: at(95),
        }
    }

    fn show(&self) -> String {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        format!("{:>6.1} / {:>5.1}", ms(self.p50), ms(self.p95))
    }
}

async fn time_calls<F, Fut>(calls: usize, mut call: F) -> anyhow::Result<Spread>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let mut times = Vec::with_capacity(calls);
    for i in 0..calls + 3 {
        let started = Instant::now();
        call().await?;
        if i >= 3 {
            times.push(started.elapsed());
        }
    }
    Ok(Spread::of(times))
}

/// The local database, as its owner.
struct Database {
    url: String,
}

impl Database {
    fn query(&self, sql: &str) -> anyhow::Result<String> {
        Ok(crate::psql::run(&self.url, sql)?.rows.trim().to_owned())
    }

    /// The execution time of `call` (an SQL expression) inside PostgreSQL, call by call, as the
    /// service role.
    fn time_in_sql(&self, call: &str, calls: usize) -> anyhow::Result<Spread> {
        let total = calls + 3;
        // The figures come back as a notice, on stderr.
        let notice = crate::psql::run(
            &self.url,
            &format!(
                "set role service_role;
                 do $$
                 declare t timestamptz; ms float8[] := '{{}}';
                 begin
                     for i in 1..{total} loop
                         t := clock_timestamp();
                         perform {call};
                         ms := ms || extract(epoch from clock_timestamp() - t) * 1000;
                     end loop;
                     raise notice '%', array_to_string(ms[4:], ' ');
                 end $$;"
            ),
        )?
        .notices;
        let times = notice
            .trim()
            .trim_start_matches("NOTICE:")
            .split_whitespace()
            .map(|ms| {
                ms.parse::<f64>()
                    .map(|ms| Duration::from_secs_f64(ms / 1000.0))
            })
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("reading the timings of {call}: {notice}"))?;
        anyhow::ensure!(!times.is_empty(), "no timings for {call}: {notice}");
        Ok(Spread::of(times))
    }
}

/// Removes the previous run's runners, loads 50 others (copies of the history, in SQL), then
/// the measured runner through `upsert_runs` in 1,000-run batches as a first sync stores them.
async fn load(adapters: &Adapters, database: &Database) -> anyhow::Result<(UserId, ApiKey, usize)> {
    database.query(&format!(
        "delete from public.users where display_name = '{LABEL}'
             or id in (select user_id from public.user_sources where source_user_id = '{LABEL}')"
    ))?;

    let sandbox = smashrun_sandbox::spawn(SandboxConfig {
        data: DataSource::Generated {
            profile: Profile::Lifetime,
            seed: 42,
        },
        ..SandboxConfig::default()
    })
    .await?;
    let activities: Vec<Value> = reqwest::get(format!("{}/admin/activities", sandbox.base_url))
        .await?
        .json()
        .await?;
    let runs: Vec<Run> = activities
        .iter()
        .map(Run::from_smashrun)
        .collect::<Result<_, _>>()
        .context("a generated activity did not read as a run")?;

    let account = SmashrunUser {
        id: LABEL.to_owned(),
        user_name: Some(LABEL.to_owned()),
        display_name: None,
    };
    // Placeholder tokens: this runner is never synced, only read.
    let now = time::OffsetDateTime::now_utc();
    let tokens = TokenSet {
        access_token: "unused".into(),
        refresh_token: "unused".into(),
        issued_at: now,
        expires_at: now + time::Duration::days(84),
    };
    let user = adapters.store.link_smashrun(&account, &tokens).await?;
    let load = JobId::random();
    let checkpoint = stk_core::job::SourceCheckpoint::bulk_load(load, now);
    for page in runs.chunks(1000) {
        adapters
            .store
            .upsert_runs(user, page, load, &checkpoint)
            .await?;
    }
    // The others copy the measured runner's rows, one statement per runner.
    let columns = database.query(
        "select string_agg(column_name, ', ' order by ordinal_position)
         from information_schema.columns
         where table_schema = 'public' and table_name = 'runs' and column_name <> 'user_id'",
    )?;
    for _ in 0..OTHER_USERS {
        database.query(&format!(
            "with u as (insert into public.users (display_name) values ('{LABEL}') returning id)
             insert into public.runs (user_id, {columns})
             select u.id, {columns} from u, public.runs r where r.user_id = '{user}'"
        ))?;
    }
    let key = ApiKey::generate()?;
    adapters
        .store
        .insert_key(user, &key.hash(), &key.prefix(), "read benchmark")
        .await?;
    Ok((user, key, runs.len()))
}
