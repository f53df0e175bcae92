//! The runner's views, run through the real `stk` binary against the stub API serving the
//! checked-in answers in `tests/fixtures/`. Text output is compared exactly with
//! `tests/snapshots/*.txt` (`UPDATE_SNAPSHOTS=1 cargo test -p stk` rewrites them).

#![allow(clippy::unwrap_used)]

mod support;

use std::process::Command;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use stk_protocol::{MonthlyTotals, Records, RunList, Settings, Stats, StreakSummary};
use support::{Canned, Recorded, Run, Sandbox, Stub, assert_snapshot, exec, fixture};

/// `stk` as the snapshots see it: no colour, 100 columns, a machine in Paris.
fn stk(sandbox: &Sandbox, stub: &Stub) -> Command {
    let mut command = sandbox.stk(&stub.url);
    command
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .env("TZ", "Europe/Paris");
    command
}

#[track_caller]
fn run_ok(sandbox: &Sandbox, stub: &Stub, args: &[&str]) -> Run {
    let run = exec(&mut stk(sandbox, stub), args);
    run.assert_code(0);
    assert_eq!(run.stderr, "", "nothing on stderr\n{run}");
    run
}

fn gets(stub: &Stub, path: &str) -> Vec<Recorded> {
    stub.requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path == path)
        .collect()
}

/// A stub answering every view with its fixture.
fn stub_with_views() -> Stub {
    let stub = Stub::start();
    for (path, name) in [
        ("/streak", "streak_alive"),
        ("/stats", "stats"),
        ("/stats/monthly", "monthly"),
        ("/records", "records"),
        ("/runs", "runs_page"),
        ("/runs/recent", "recent"),
        ("/settings", "settings"),
    ] {
        stub.on_get_fixture(path, name);
    }
    stub
}

#[test]
fn streak_alive_with_todays_run_due() {
    let stub = stub_with_views();
    let sandbox = Sandbox::new();
    let run = run_ok(&sandbox, &stub, &["streak"]);
    assert_snapshot("streak_alive", &run.stdout);
    run.stdout_has("4,330-day streak")
        .stdout_has("365+ days: legendary")
        .stdout_has("today: run still due (1.00 mi / 1.61 km to go)")
        .stdout_has("NEW RECORD!");
    let request = &gets(&stub, "/streak")[0];
    assert_eq!(
        request.authorization.as_deref(),
        Some(format!("Bearer {}", support::KEY).as_str())
    );
}

#[test]
fn stk_alone_shows_the_streak() {
    let stub = stub_with_views();
    let sandbox = Sandbox::new();
    let alone = run_ok(&sandbox, &stub, &[]);
    let streak = run_ok(&sandbox, &stub, &["streak"]);
    assert_eq!(alone.stdout, streak.stdout);
    assert_eq!(gets(&stub, "/streak").len(), 2);
}

#[test]
fn streak_without_an_alive_streak_and_without_a_zone() {
    let stub = Stub::start();
    stub.on_get_fixture("/streak", "streak_broken");
    let sandbox = Sandbox::new();
    let run = run_ok(&sandbox, &stub, &["streak"]);
    assert_snapshot("streak_broken", &run.stdout);
    run.stdout_has("no streak running")
        .stdout_has("hint: your time zone is not set; streak days follow UTC. Set it with: stk config set timezone <ZONE>")
        .stdout_has("this machine is on Europe/Paris: stk config set timezone Europe/Paris");

    // The machine's zone also comes from TZ's other spellings.
    let run = exec(
        stk(&sandbox, &stub).env("TZ", ":/usr/share/zoneinfo/America/New_York"),
        &["streak"],
    );
    run.assert_code(0)
        .stdout_has("this machine is on America/New_York");

    // A machine on UTC has nothing to offer.
    let run = exec(stk(&sandbox, &stub).env("TZ", "Etc/UTC"), &["streak"]);
    run.assert_code(0)
        .stdout_has("hint: your time zone is not set");
    assert!(!run.stdout.contains("this machine"), "{run}");
}

#[test]
fn stats_view() {
    let stub = stub_with_views();
    let sandbox = Sandbox::new();
    let run = run_ok(&sandbox, &stub, &["stats"]);
    assert_snapshot("stats", &run.stdout);
}

#[test]
fn recent_view_asks_for_n_runs() {
    let stub = stub_with_views();
    let sandbox = Sandbox::new();
    let run = run_ok(&sandbox, &stub, &["recent"]);
    assert_snapshot("recent", &run.stdout);
    run_ok(&sandbox, &stub, &["recent", "-n", "3"]);
    let queries: Vec<_> = gets(&stub, "/runs/recent")
        .into_iter()
        .map(|r| r.query)
        .collect();
    assert_eq!(
        queries,
        [Some("limit=10".to_owned()), Some("limit=3".to_owned())]
    );
}

#[test]
fn recent_in_kilometres_and_on_a_narrow_terminal() {
    let stub = stub_with_views();
    let sandbox = Sandbox::new();
    let run = run_ok(&sandbox, &stub, &["recent", "--units", "km"]);
    assert_snapshot("recent_km", &run.stdout);
    run.stdout_has("°C").stdout_has(" /km");

    let run = exec(stk(&sandbox, &stub).env("COLUMNS", "40"), &["recent"]);
    run.assert_code(0);
    assert_snapshot("recent_narrow", &run.stdout);
    for line in run.stdout.lines() {
        assert!(line.chars().count() <= 40, "{line:?}");
    }
}

#[test]
fn runs_view_with_paging_header() {
    let stub = stub_with_views();
    let sandbox = Sandbox::new();
    let run = run_ok(&sandbox, &stub, &["runs", "--offset", "50", "-n", "5"]);
    assert_snapshot("runs_page", &run.stdout);
    run.stdout_has("Showing 51-55 of 4,812 runs\n")
        .stdout_has("next page: stk runs --offset 55 -n 5\n");

    run_ok(
        &sandbox,
        &stub,
        &["runs", "--since", "2026-05-01", "--until", "2026-05-31"],
    );
    let queries: Vec<_> = gets(&stub, "/runs").into_iter().map(|r| r.query).collect();
    assert_eq!(
        queries,
        [
            Some("limit=5&offset=50".to_owned()),
            Some("since=2026-05-01&until=2026-05-31&limit=50&offset=0".to_owned())
        ]
    );
}

#[test]
fn runs_rejects_bad_dates_before_asking() {
    let stub = stub_with_views();
    let sandbox = Sandbox::new();
    for (args, expected) in [
        (&["runs", "--since", "2026-02-30"][..], "2026-02-30"),
        (&["runs", "--since", "yesterday"][..], "invalid date"),
        (
            &["runs", "--since", "2026-06-01", "--until", "2026-05-01"][..],
            "--since 2026-06-01 is after --until 2026-05-01",
        ),
        (&["runs", "-n", "0"][..], "0 is not in 1..=500"),
        (&["monthly", "-n", "601"][..], "601"),
        (&["recent", "--units", "furlongs"][..], "furlongs"),
        (&["config", "set", "min-distance", "-1mi"][..], "negative"),
        (
            &["config", "set", "min-distance", "5 furlongs"][..],
            "furlongs",
        ),
    ] {
        let run = exec(&mut stk(&sandbox, &stub), args);
        run.assert_code(2).stderr_has(expected);
        assert_eq!(run.stdout, "", "{args:?}");
    }
    // Even without any configuration.
    exec(
        &mut Sandbox::empty().bare_stk(),
        &["runs", "--until", "2026-13-01"],
    )
    .assert_code(2);
    assert!(stub.requests().is_empty(), "{:?}", stub.requests());
}

#[test]
fn monthly_view() {
    let stub = stub_with_views();
    let sandbox = Sandbox::new();
    let run = run_ok(&sandbox, &stub, &["monthly"]);
    assert_snapshot("monthly", &run.stdout);
    run_ok(&sandbox, &stub, &["monthly", "-n", "600"]);
    let queries: Vec<_> = gets(&stub, "/stats/monthly")
        .into_iter()
        .map(|r| r.query)
        .collect();
    assert_eq!(
        queries,
        [Some("limit=12".to_owned()), Some("limit=600".to_owned())]
    );
}

#[test]
fn records_view() {
    let stub = stub_with_views();
    let sandbox = Sandbox::new();
    let run = run_ok(&sandbox, &stub, &["records"]);
    assert_snapshot("records", &run.stdout);
    run.stdout_has("fastest pace (3.0 mi+)");
}

#[test]
fn config_show_never_shows_the_key() {
    let stub = stub_with_views();
    let sandbox = Sandbox::new();
    let run = run_ok(&sandbox, &stub, &["config", "show"]);
    let config_file = sandbox.config_dir().join("config.json");
    let normalised = run
        .stdout
        .replace(&stub.url, "http://127.0.0.1:PORT")
        .replace(&config_file.display().to_string(), "CONFIG_DIR/config.json");
    assert_snapshot("config_show", &normalised);
    // `stk config` alone is `stk config show`.
    assert_eq!(run_ok(&sandbox, &stub, &["config"]).stdout, run.stdout);

    let run = run_ok(&sandbox, &stub, &["config", "show", "--json"]);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        serde_json::from_value::<Settings>(report["settings"].clone()).unwrap(),
        fixture::<Settings>("settings")
    );
    assert_eq!(report["units"], "mi");
    assert_eq!(report["units_source"], "default");
    assert_eq!(report["api_url"], format!("{}/", stub.url));
    assert_eq!(report["api_key_source"], config_file.display().to_string());
}

/// `--json` prints exactly the API's answer, pretty, and nothing else.
#[track_caller]
fn assert_json_round_trip<T>(sandbox: &Sandbox, stub: &Stub, args: &[&str], name: &str)
where
    T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug,
{
    let run = run_ok(sandbox, stub, args);
    let expected: T = fixture(name);
    assert_eq!(serde_json::from_str::<T>(&run.stdout).unwrap(), expected);
    assert_eq!(
        run.stdout,
        format!("{}\n", serde_json::to_string_pretty(&expected).unwrap())
    );
}

#[test]
fn json_output_is_the_protocol_type() {
    let stub = stub_with_views();
    let sandbox = Sandbox::new();
    assert_json_round_trip::<StreakSummary>(&sandbox, &stub, &["streak", "--json"], "streak_alive");
    assert_json_round_trip::<Stats>(&sandbox, &stub, &["stats", "--json"], "stats");
    assert_json_round_trip::<RunList>(&sandbox, &stub, &["recent", "--json"], "recent");
    assert_json_round_trip::<RunList>(&sandbox, &stub, &["runs", "--json"], "runs_page");
    assert_json_round_trip::<MonthlyTotals>(&sandbox, &stub, &["monthly", "--json"], "monthly");
    assert_json_round_trip::<Records>(&sandbox, &stub, &["records", "--json"], "records");

    // No hint mixed into JSON, even without a zone.
    stub.on_get_fixture("/streak", "streak_broken");
    assert_json_round_trip::<StreakSummary>(
        &sandbox,
        &stub,
        &["streak", "--json"],
        "streak_broken",
    );
}

fn patches(stub: &Stub) -> Vec<Value> {
    stub.requests()
        .into_iter()
        .filter(|r| r.method == "PATCH" && r.path == "/settings")
        .map(|r| {
            assert_eq!(r.content_type.as_deref(), Some("application/json"));
            serde_json::from_str(&r.body).unwrap()
        })
        .collect()
}

#[test]
fn config_set_sends_the_settings_patch() {
    let stub = stub_with_views();
    let sandbox = Sandbox::new();
    let settings = |zone: &str, km: f64| {
        Canned::json(
            200,
            &Settings {
                time_zone: Some(zone.into()),
                min_streak_distance_km: km,
            },
        )
    };

    stub.on("PATCH", "/settings", settings("America/Denver", 0.0));
    run_ok(
        &sandbox,
        &stub,
        &["config", "set", "timezone", "America/Denver"],
    )
    .stdout_has("time zone set to America/Denver");

    // Without a zone: this machine's, said out loud.
    stub.on("PATCH", "/settings", settings("Asia/Tokyo", 0.0));
    let run = exec(
        stk(&sandbox, &stub).env("TZ", "Asia/Tokyo"),
        &["config", "set", "timezone"],
    );
    run.assert_code(0)
        .stdout_has("using this machine's time zone: Asia/Tokyo\n")
        .stdout_has("time zone set to Asia/Tokyo");

    stub.on("PATCH", "/settings", settings("Asia/Tokyo", 1.609_344));
    run_ok(&sandbox, &stub, &["config", "set", "min-distance", "1mi"])
        .stdout_has("streak minimum set to 1.00 mi / 1.61 km a day\n");
    run_ok(&sandbox, &stub, &["config", "set", "min-distance", "1609m"]);
    run_ok(&sandbox, &stub, &["config", "set", "min-distance", "1.6km"]);
    // A bare number is in the units in use.
    run_ok(&sandbox, &stub, &["config", "set", "min-distance", "2"]);
    run_ok(
        &sandbox,
        &stub,
        &["config", "set", "min-distance", "5", "--units", "km"],
    );
    stub.on("PATCH", "/settings", settings("Asia/Tokyo", 0.0));
    run_ok(&sandbox, &stub, &["config", "set", "min-distance", "0"])
        .stdout_has("streak minimum set to none: any run counts\n");

    assert_eq!(
        patches(&stub),
        [
            json!({"time_zone": "America/Denver"}),
            json!({"time_zone": "Asia/Tokyo"}),
            json!({"min_streak_distance_km": 1.609_344}),
            json!({"min_streak_distance_km": 1.609}),
            json!({"min_streak_distance_km": 1.6}),
            json!({"min_streak_distance_km": 3.218_688}),
            json!({"min_streak_distance_km": 5.0}),
            json!({"min_streak_distance_km": 0.0}),
        ]
    );
}

#[test]
fn a_refused_setting_exits_4_with_the_servers_message() {
    let stub = stub_with_views();
    let sandbox = Sandbox::new();
    stub.on(
        "PATCH",
        "/settings",
        Canned::error(
            400,
            "invalid_body",
            "unknown time zone `Europe/Pariss`",
            Some("req-400"),
        ),
    );
    let run = exec(
        &mut stk(&sandbox, &stub),
        &["config", "set", "timezone", "Europe/Pariss"],
    );
    run.assert_code(4)
        .stderr_has("error: unknown time zone `Europe/Pariss` (request id req-400)\n");
    assert_eq!(run.stdout, "");
}

#[test]
fn units_are_saved_locally_and_flags_win() {
    let stub = stub_with_views();
    let sandbox = Sandbox::empty();
    let mut config: Value =
        serde_json::from_str(&support::key_config(&stub.url, support::KEY)).unwrap();
    config["theme"] = "dark".into();
    sandbox.write_config(&config.to_string());
    let run = exec(
        sandbox
            .bare_stk()
            .env("STK_CONFIG_DIR", sandbox.config_dir()),
        &["config", "set", "units", "km"],
    );
    run.assert_code(0).stdout_has("units set to km (saved in ");
    let saved: Value = serde_json::from_str(
        &std::fs::read_to_string(sandbox.config_dir().join("config.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(saved["units"], "km");
    assert_eq!(
        saved["apis"][stub.url.trim_end_matches('/')]["api_key"],
        support::KEY,
        "the key is kept"
    );
    assert_eq!(saved["theme"], "dark", "unknown keys are kept");
    assert!(stub.requests().is_empty(), "units never reach the API");

    run_ok(&sandbox, &stub, &["stats"]).stdout_has("distance          47,334.8 km\n");
    run_ok(&sandbox, &stub, &["stats", "--units", "mi"])
        .stdout_has("distance          29,412.5 mi\n");
    run_ok(&sandbox, &stub, &["config", "show", "--units", "mi"])
        .stdout_has("units           mi (from --units or STK_UNITS)\n");
    let run = exec(stk(&sandbox, &stub).env("STK_UNITS", "mi"), &["stats"]);
    run.assert_code(0)
        .stdout_has("distance          29,412.5 mi\n");
    run_ok(&sandbox, &stub, &["config", "show"])
        .stdout_has("units           km (from config.json)\n");

    // Odd units in the file are warned about, not fatal.
    let mut odd: Value =
        serde_json::from_str(&support::key_config(&stub.url, support::KEY)).unwrap();
    odd["units"] = "furlongs".into();
    sandbox.write_config(&odd.to_string());
    exec(&mut stk(&sandbox, &stub), &["stats"])
        .assert_code(0)
        .stdout_has(" mi\n")
        .stderr_has("warning: ignoring `units` in ")
        .stderr_has("unknown units `furlongs`");
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let stub = stub_with_views();
    let sandbox = Sandbox::new();
    // Piped, NO_COLOR or not: plain.
    let plain = exec(stk(&sandbox, &stub).env_remove("NO_COLOR"), &["streak"]);
    assert!(!plain.stdout.contains('\x1b'), "{plain}");
    // Forced.
    let run = run_ok(&sandbox, &stub, &["streak", "--color", "always"]);
    assert!(run.stdout.contains("\x1b[1;35mNEW RECORD!\x1b[0m"), "{run}");
    let run = run_ok(&sandbox, &stub, &["stats", "--color", "never"]);
    assert!(!run.stdout.contains('\x1b'), "{run}");
    // JSON is never coloured.
    let run = run_ok(&sandbox, &stub, &["stats", "--json", "--color", "always"]);
    assert!(!run.stdout.contains('\x1b'), "{run}");
}

#[test]
fn completions_for_each_shell_need_no_configuration() {
    let sandbox = Sandbox::empty();
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef stk"),
        ("fish", "complete -c stk"),
    ] {
        let run = exec(&mut sandbox.bare_stk(), &["completions", shell]);
        run.assert_code(0).stdout_has(marker).stdout_has("streak");
        assert!(run.stdout.len() > 1000, "{shell}: {}", run.stdout.len());
    }
    exec(&mut sandbox.bare_stk(), &["completions", "tcsh"]).assert_code(2);
}

#[test]
fn view_errors_use_the_usual_exit_codes() {
    let stub = Stub::start();
    let sandbox = Sandbox::new();
    stub.on(
        "GET",
        "/stats",
        Canned::text(502, "<html>Bad Gateway</html>"),
    );
    exec(&mut stk(&sandbox, &stub), &["stats"])
        .assert_code(5)
        .stderr_has("error: the API answered 502 Bad Gateway");
    stub.on("GET", "/records", Canned::text(200, "not json"));
    exec(&mut stk(&sandbox, &stub), &["records"])
        .assert_code(5)
        .stderr_has("could not read the API's answer to GET /records");

    let wrong_key = Sandbox::empty();
    wrong_key.write_config(&support::key_config(&stub.url, "stk_wrong"));
    exec(&mut stk(&wrong_key, &stub), &["streak"])
        .assert_code(4)
        .stderr_has("the API key was refused");

    // No configuration at all: `stk` alone says what is missing.
    exec(&mut Sandbox::empty().bare_stk(), &[])
        .assert_code(3)
        .stderr_has("no API URL configured");
}

#[test]
fn empty_accounts_say_how_to_get_runs() {
    let stub = Stub::start();
    let sandbox = Sandbox::new();
    stub.on(
        "GET",
        "/runs/recent",
        Canned::json(
            200,
            &RunList {
                total: 0,
                offset: 0,
                limit: 10,
                runs: vec![],
            },
        ),
    );
    stub.on(
        "GET",
        "/stats/monthly",
        Canned::json(200, &MonthlyTotals { months: vec![] }),
    );
    for args in [&["recent"][..], &["monthly"][..]] {
        let run = run_ok(&sandbox, &stub, args);
        assert_eq!(
            run.stdout,
            "no runs yet: fetch them from SmashRun with `stk sync`\n"
        );
    }
}
