//! Loading real captures and generating profiles.

use std::path::PathBuf;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use smashrun_sandbox::{DataSource, Profile, Sandbox, SandboxConfig, SandboxError};

use crate::helpers::{TODAY, TestApp, config, local_dates, longest_streak};

fn samples_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/smashrun-activities-summary.json")
}

/// Removes the whitespace between JSON tokens (the samples file is pretty-printed, the API is compact).
fn minify(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

#[tokio::test]
async fn the_real_samples_load_and_come_back_unchanged() {
    let path = samples_path();
    let text = std::fs::read_to_string(&path).expect("the real samples are in dev/fixtures");
    let app = TestApp::start(SandboxConfig {
        data: DataSource::File(path),
        ..config(Profile::Small)
    })
    .await;
    let t = app.login().await;
    let (status, body) = app.get_text("/v1/my/activities/search", &t.access).await;
    assert_eq!(status, StatusCode::OK);
    // The samples are already newest first, so the answer is the file itself: same keys, same order, same numbers.
    assert_eq!(body, minify(&text));
    let list: Vec<Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(list.len(), 200);

    for original in list.iter().step_by(37) {
        let (status, one) = app
            .get(
                &format!("/v1/my/activities/{}", original["activityId"]),
                &t.access,
            )
            .await;
        assert_eq!((status, &one), (StatusCode::OK, original));
    }
    // Paging through the file gives the same objects.
    let (_, page) = app
        .get("/v1/my/activities/search?page=1&count=100", &t.access)
        .await;
    assert_eq!(page.as_array().unwrap()[..], list[100..]);

    let summary = app.running.sandbox.summary();
    assert_eq!(summary.activity_count, 200);
    assert_eq!(
        summary.longest_streak,
        longest_streak(&local_dates(&list)).0
    );
    assert_eq!(summary.current_streak, 0, "the samples end in 2022");
    let (_, stats) = app.get("/v1/my/stats", &t.access).await;
    assert_eq!(stats["runCount"], 200);
    let (_, info) = app.get("/v1/my/userinfo", &t.access).await;
    assert_eq!(
        info["timeZoneOffsetMinutes"], -300,
        "offset of the newest sample"
    );
    assert_eq!(info["dateTimeUTCOfLastRun"], "2022-11-09T14:12:00");
}

#[test]
fn activities_given_as_values_and_bad_input() {
    let text = std::fs::read_to_string(samples_path()).unwrap();
    let values: Vec<Value> = serde_json::from_str(&text).unwrap();
    let sandbox = Sandbox::new(SandboxConfig {
        data: DataSource::Activities(values.clone()),
        ..config(Profile::Small)
    })
    .unwrap();
    assert_eq!(sandbox.summary().activity_count, 200);

    let with = |v: Vec<Value>| {
        Sandbox::new(SandboxConfig {
            data: DataSource::Activities(v),
            ..config(Profile::Small)
        })
        .map(|_| ())
        .unwrap_err()
    };
    let mut no_id = values[..3].to_vec();
    no_id[1].as_object_mut().unwrap().remove("activityId");
    let error = with(no_id);
    assert!(
        matches!(error, SandboxError::InvalidActivity { index: 1, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("activityId"), "{error}");
    let mut float_id = values[..1].to_vec();
    float_id[0]["activityId"] = Value::from(1.5);
    assert!(with(float_id).to_string().contains("integer"));
    assert!(matches!(
        with(vec![values[0].clone(), values[0].clone()]),
        SandboxError::DuplicateActivityId(31423111)
    ));
    assert!(matches!(
        with(vec![Value::from(3)]),
        SandboxError::InvalidActivity { index: 0, .. }
    ));

    let dir = std::env::temp_dir().join(format!("smashrun-sandbox-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = |name: &str, content: &str| {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        Sandbox::new(SandboxConfig {
            data: DataSource::File(path),
            ..config(Profile::Small)
        })
        .map(|_| ())
    };
    assert!(matches!(
        file("object.json", r#"{"activityId": 1}"#),
        Err(SandboxError::ParseFile { .. })
    ));
    assert!(matches!(
        file("numbers.json", "[1, 2]"),
        Err(SandboxError::ParseFile { .. })
    ));
    assert!(matches!(
        file("broken.json", "[{"),
        Err(SandboxError::ParseFile { .. })
    ));
    let error = file(
        "nodate.json",
        r#"[{"activityId": 1, "distance": 1, "duration": 1}]"#,
    )
    .unwrap_err();
    assert!(error.to_string().contains("startDateTimeLocal"), "{error}");
    assert!(file("empty.json", "[]").is_ok());
    assert!(file(
        "minimal.json",
        r#"[{"activityId": 1, "startDateTimeLocal": "2024-03-10T07:15:00", "distance": 5, "duration": 1500, "dateCreatedUTC": "2024-03-10T12:00:01.1"}]"#
    )
    .is_ok());
    let missing = Sandbox::new(SandboxConfig {
        data: DataSource::File(dir.join("missing.json")),
        ..config(Profile::Small)
    })
    .unwrap_err();
    assert!(matches!(missing, SandboxError::ReadFile { .. }));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn generated_profiles_have_their_streaks_and_sizes() {
    let streaker = Sandbox::new(config(Profile::Streaker)).unwrap().summary();
    assert_eq!(streaker.current_streak, 4_330);
    assert_eq!(streaker.longest_streak, 4_330);
    assert_eq!(
        streaker.current_streak_start,
        Some((TODAY - time::Duration::days(4_330)).to_string())
    );
    assert!(
        (4_500..=5_200).contains(&streaker.activity_count),
        "{}",
        streaker.activity_count
    );

    let started = std::time::Instant::now();
    let lifetime = Sandbox::new(config(Profile::Lifetime)).unwrap().summary();
    let elapsed = started.elapsed();
    assert!(
        lifetime.activity_count >= 20_000,
        "{}",
        lifetime.activity_count
    );
    assert_eq!(
        lifetime.current_streak,
        Profile::Lifetime.current_streak_days()
    );
    assert_eq!(lifetime.longest_streak, lifetime.current_streak);
    assert!(
        elapsed.as_secs() < 10,
        "lifetime generation took {elapsed:?}"
    );

    // `today` = None: the streak still ends yesterday (UTC).
    let live = Sandbox::new(SandboxConfig {
        today: None,
        ..config(Profile::Small)
    })
    .unwrap();
    assert_eq!(live.summary().current_streak, 52);
}

#[tokio::test]
async fn same_seed_same_json_other_seed_other_json() {
    let dump = |seed: u64| async move {
        let app = TestApp::start(SandboxConfig {
            data: DataSource::Generated {
                profile: Profile::Streaker,
                seed,
            },
            ..config(Profile::Streaker)
        })
        .await;
        let response = app
            .client
            .request(Method::GET, app.url("/admin/activities"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.text().await.unwrap()
    };
    let a = dump(7).await;
    let b = dump(7).await;
    let c = dump(8).await;
    assert!(a.len() > 1_000_000);
    assert_eq!(a, b);
    assert_ne!(a, c);
}
