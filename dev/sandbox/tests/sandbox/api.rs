//! `/v1/my/...`: paging, the change filter, detail, userinfo and stats.

use std::collections::HashSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use smashrun_sandbox::Profile;

use crate::helpers::{TODAY, TestApp, config, local_dates, longest_streak};

/// The local start as written (`YYYY-MM-DDTHH:MM:SS`, offset dropped) and the id: the documented sort key.
fn sort_key(a: &Value) -> (String, i64) {
    (
        a["startDateTimeLocal"].as_str().unwrap()[..19].to_owned(),
        a["activityId"].as_i64().unwrap(),
    )
}

#[tokio::test]
async fn paging_newest_first_clamped_and_partitioning() {
    let app = TestApp::start(config(Profile::Streaker)).await;
    let t = app.login().await;
    let summary = app.running.sandbox.summary();

    let (status, all) = app.get("/v1/my/activities/search", &t.access).await;
    assert_eq!(status, StatusCode::OK);
    let all = all.as_array().unwrap().clone();
    assert_eq!(
        all.len() as u64,
        summary.activity_count,
        "no page and no count: everything at once"
    );
    assert!(
        all.windows(2).all(|w| sort_key(&w[0]) > sort_key(&w[1])),
        "newest first, ties by id descending"
    );

    let (status, clamped) = app
        .get("/v1/my/activities/search?page=0&count=500", &t.access)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        clamped.as_array().unwrap().len(),
        100,
        "count is clamped to 100"
    );
    assert_eq!(clamped.as_array().unwrap()[..], all[..100]);

    let mut ids = Vec::new();
    let mut page = 0;
    loop {
        let (status, body) = app
            .get(
                &format!("/v1/my/activities/search/ids?page={page}&count=100"),
                &t.access,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let chunk: Vec<i64> = body
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        if chunk.is_empty() {
            break;
        }
        assert!(
            chunk.len() == 100 || chunk.len() as u64 == summary.activity_count % 100,
            "only the last page is short"
        );
        ids.extend(chunk);
        page += 1;
    }
    assert_eq!(page as u64, summary.activity_count.div_ceil(100));
    let expected: Vec<i64> = all
        .iter()
        .map(|a| a["activityId"].as_i64().unwrap())
        .collect();
    assert_eq!(
        ids, expected,
        "the pages partition the whole list, in order"
    );
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        ids.len(),
        "no duplicates"
    );

    let (status, past_end) = app
        .get(
            &format!("/v1/my/activities/search?page={}&count=100", page + 3),
            &t.access,
        )
        .await;
    assert_eq!((status, past_end), (StatusCode::OK, json!([])));

    let (_, briefs) = app
        .get("/v1/my/activities/search/briefs?page=1&count=7", &t.access)
        .await;
    let briefs = briefs.as_array().unwrap();
    assert_eq!(briefs.len(), 7);
    for (brief, full) in briefs.iter().zip(&all[7..14]) {
        let keys: Vec<&String> = brief.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 4);
        for key in ["activityId", "startDateTimeLocal", "distance", "duration"] {
            assert_eq!(brief[key], full[key]);
        }
    }
    let (_, brief_text) = app
        .get_text("/v1/my/activities/search/briefs?count=1", &t.access)
        .await;
    assert!(brief_text.starts_with("[{\"activityId\":"), "{brief_text}");

    for bad in [
        "count=0",
        "count=-5",
        "count=ten",
        "page=-1",
        "page=x&count=10",
        "fromDateUTC=yesterday",
    ] {
        let (status, body) = app
            .get(&format!("/v1/my/activities/search?{bad}"), &t.access)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(body["error"], "invalid_request", "{bad}");
    }
}

#[tokio::test]
async fn from_date_keeps_created_or_updated_after() {
    let app = TestApp::small().await;
    let t = app.login().await;
    let (_, all) = app.get("/v1/my/activities/search", &t.access).await;
    let all = all.as_array().unwrap().clone();
    let oldest = all.last().unwrap()["activityId"].as_i64().unwrap();

    let (_, everything) = app
        .get("/v1/my/activities/search?fromDateUTC=0", &t.access)
        .await;
    assert_eq!(everything.as_array().unwrap().len(), all.len());

    // Generated runs were all created before `today`; anything after the real clock now is new.
    let since = time::OffsetDateTime::now_utc().unix_timestamp();
    let (_, none) = app
        .get(
            &format!("/v1/my/activities/search?fromDateUTC={since}"),
            &t.access,
        )
        .await;
    assert_eq!(none, json!([]));

    let (status, added) = app
        .admin(Method::POST, "/admin/activities", Some(json!({"startDateTimeLocal": "2021-03-14T23:55:00-04:00", "distance": 5.1, "duration": 1800})))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let added_id = added["activityId"].as_i64().unwrap();
    assert!(
        all.iter()
            .all(|a| a["activityId"].as_i64().unwrap() < added_id),
        "next id"
    );
    assert_eq!(added["source"], "manual");
    assert_eq!(added["syncDateTimeUTC"], Value::Null);
    assert_eq!(added["dateCreatedUTC"], added["dateUpdatedUTC"]);

    let (status, patched) = app
        .admin(
            Method::PATCH,
            &format!("/admin/activities/{oldest}"),
            Some(json!({"notes": "edited", "distance": 9})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(patched["notes"], "edited");
    assert_eq!(patched["distance"], 9);
    assert!(
        patched["dateUpdatedUTC"].as_str().unwrap() > patched["dateCreatedUTC"].as_str().unwrap()
    );

    for path in ["/v1/my/activities/search", "/v1/my/activities/search/ids"] {
        let (_, changed) = app
            .get(&format!("{path}?fromDateUTC={since}"), &t.access)
            .await;
        let changed_ids: HashSet<i64> = changed
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.get("activityId").unwrap_or(a).as_i64().unwrap())
            .collect();
        assert_eq!(changed_ids, HashSet::from([added_id, oldest]), "{path}");
    }
    let (_, changed) = app
        .get(
            &format!("/v1/my/activities/search?fromDateUTC={since}"),
            &t.access,
        )
        .await;
    assert_eq!(
        changed[0]["activityId"],
        oldest,
        "still newest-first by start time: 2021 after {}",
        all.last().unwrap()["startDateTimeLocal"]
    );

    // Deleted runs are gone from search and detail.
    let (status, _) = app
        .admin(
            Method::DELETE,
            &format!("/admin/activities/{added_id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, ids) = app.get("/v1/my/activities/search/ids", &t.access).await;
    assert!(!ids.as_array().unwrap().contains(&json!(added_id)));
    assert_eq!(
        app.get(&format!("/v1/my/activities/{added_id}"), &t.access)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn detail_userinfo_and_stats() {
    let app = TestApp::small().await;
    let t = app.login().await;
    let (_, all) = app.get("/v1/my/activities/search", &t.access).await;
    let all = all.as_array().unwrap().clone();

    let (status, one) = app
        .get(
            &format!("/v1/my/activities/{}", all[3]["activityId"]),
            &t.access,
        )
        .await;
    assert_eq!((status, &one), (StatusCode::OK, &all[3]));
    let (status, body) = app.get("/v1/my/activities/123", &t.access).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    assert_eq!(
        app.get("/v1/my/activities/abc", &t.access).await.0,
        StatusCode::BAD_REQUEST
    );

    let (_, info_text) = app.get_text("/v1/my/userinfo", &t.access).await;
    assert!(
        info_text.starts_with("{\"id\":101,\"firstName\":"),
        "{info_text}"
    );
    let info: Value = serde_json::from_str(&info_text).unwrap();
    assert_eq!(info["userName"], "streaker");
    assert_eq!(info["unitDistance"], "m");
    assert_eq!(info["timeZoneOffsetMinutes"], -240, "EDT in June");
    let last = info["dateTimeUTCOfLastRun"].as_str().unwrap();
    assert!(
        last.starts_with("2025-06-14T") && !last.ends_with('Z'),
        "{last}"
    );

    let summary = app.running.sandbox.summary();
    let dates = local_dates(&all);
    let (longest, longest_start) = longest_streak(&dates);
    assert_eq!(summary.longest_streak, longest);
    assert_eq!(summary.current_streak, Profile::Small.current_streak_days());
    assert_eq!(
        summary.longest_streak_start,
        longest_start.map(|d| d.to_string())
    );
    assert_eq!(
        summary.current_streak_start,
        Some((TODAY - time::Duration::days(52)).to_string())
    );
    let total: f64 = all.iter().map(|a| a["distance"].as_f64().unwrap()).sum();
    assert!((summary.total_distance_km - total).abs() < 1e-6);

    let (status, stats) = app.get("/v1/my/stats", &t.access).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stats["runCount"], all.len());
    assert_eq!(stats["longestStreak"], longest);
    assert_eq!(
        stats["longestStreakDate"],
        format!("{}T00:00:00", longest_start.unwrap())
    );
    assert!((stats["totalDistance"].as_f64().unwrap() - total).abs() < 1e-4);
    let longest_run = all
        .iter()
        .map(|a| a["distance"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert_eq!(stats["longestRun"].as_f64().unwrap(), longest_run);
    assert_eq!(stats["daysRunAllTime"], dates.len());

    let (status, june) = app.get("/v1/my/stats/2025/6", &t.access).await;
    assert_eq!(status, StatusCode::OK);
    let in_june = all
        .iter()
        .filter(|a| {
            a["startDateTimeLocal"]
                .as_str()
                .unwrap()
                .starts_with("2025-06")
        })
        .count();
    assert_eq!(june["runCount"], in_june);
    assert_eq!(june["longestStreak"], 14, "1 to 14 June");
    assert_eq!(
        app.get("/v1/my/stats/2025/13", &t.access).await.0,
        StatusCode::BAD_REQUEST
    );
    let (_, year) = app.get("/v1/my/stats/2025", &t.access).await;
    assert_eq!(year["runCount"], all.len());
}

#[tokio::test]
async fn stats_match_an_independent_count_on_the_streaker() {
    let app = TestApp::start(config(Profile::Streaker)).await;
    let t = app.login().await;
    let (_, all) = app.get("/v1/my/activities/search", &t.access).await;
    let all = all.as_array().unwrap().clone();
    let (_, stats) = app.get("/v1/my/stats", &t.access).await;
    let summary = app.running.sandbox.summary();
    let (longest, start) = longest_streak(&local_dates(&all));
    assert_eq!(longest, 4_330);
    assert_eq!(stats["runCount"], summary.run_count);
    assert_eq!(stats["runCount"], all.len());
    assert_eq!(stats["longestStreak"], summary.longest_streak);
    assert_eq!(summary.longest_streak, longest);
    assert_eq!(
        stats["longestStreakDate"],
        format!("{}T00:00:00", start.unwrap())
    );
    assert_eq!(summary.current_streak, 4_330);
    assert_eq!(summary.current_streak_start, summary.longest_streak_start);
}
