//! Admin routes: counters, faults, bad input.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::TestApp;

#[tokio::test]
async fn counters_count_per_route() {
    let app = TestApp::small().await;
    let t = app.login().await;
    let (status, _) = app.admin(Method::POST, "/admin/counters/reset", None).await;
    assert_eq!(status, StatusCode::OK);
    for _ in 0..3 {
        app.get("/v1/my/activities/search?count=5", &t.access).await;
    }
    app.get("/v1/my/activities/search", "wrong-token").await;
    let (_, ids) = app.get("/v1/my/activities/search/ids", &t.access).await;
    app.get(&format!("/v1/my/activities/{}", ids[0]), &t.access)
        .await;
    app.get(&format!("/v1/my/activities/{}", ids[1]), &t.access)
        .await;
    app.refresh(&t.refresh).await;
    app.get("/nowhere", &t.access).await;

    let (status, counters) = app.admin(Method::GET, "/admin/counters", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        counters,
        json!({
            "total": 8,
            "routes": {
                "GET /v1/my/activities/search": 4,
                "GET /v1/my/activities/search/ids": 1,
                "GET /v1/my/activities/{id}": 2,
                "POST /oauth2/token": 1,
            }
        })
    );
    app.admin(Method::POST, "/admin/counters/reset", None).await;
    let (_, counters) = app.admin(Method::GET, "/admin/counters", None).await;
    assert_eq!(counters, json!({"total": 0, "routes": {}}));
}

#[tokio::test]
async fn fail_next_then_recovers() {
    let app = TestApp::small().await;
    let t = app.login().await;
    let (status, faults) = app
        .admin(
            Method::POST,
            "/admin/faults",
            Some(json!({"fail_next": {"status": 503, "count": 3}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(faults["fail_next"], json!({"status": 503, "count": 3}));
    for _ in 0..3 {
        let (status, body) = app.get("/v1/my/activities/search?count=1", &t.access).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body["error"].is_string());
    }
    assert_eq!(
        app.get("/v1/my/activities/search?count=1", &t.access)
            .await
            .0,
        StatusCode::OK
    );
    // OAuth is not affected.
    app.admin(
        Method::POST,
        "/admin/faults",
        Some(json!({"fail_next": {"status": 502}})),
    )
    .await;
    assert_eq!(app.refresh(&t.refresh).await.status(), StatusCode::OK);
    assert_eq!(
        app.get("/v1/my/userinfo", &t.access).await.0,
        StatusCode::BAD_GATEWAY
    );
    assert_eq!(
        app.get("/v1/my/userinfo", &t.access).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn rate_limit_with_and_without_retry_after() {
    let app = TestApp::small().await;
    let t = app.login().await;
    app.admin(
        Method::POST,
        "/admin/faults",
        Some(json!({"rate_limit": {"requests_per_hour": 5, "retry_after": true}})),
    )
    .await;
    for i in 0..5 {
        assert_eq!(
            app.get("/v1/my/activities/search?count=1", &t.access)
                .await
                .0,
            StatusCode::OK,
            "request {i}"
        );
    }
    let response = app
        .client
        .get(app.url("/v1/my/activities/search?count=1"))
        .bearer_auth(&t.access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((3_500..=3_600).contains(&retry), "{retry}");
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "rate_limit_exceeded"
    );

    // An hour later the window has rolled.
    app.admin(
        Method::POST,
        "/admin/clock/advance",
        Some(json!({"seconds": 3_601})),
    )
    .await;
    assert_eq!(
        app.get("/v1/my/activities/search?count=1", &t.access)
            .await
            .0,
        StatusCode::OK
    );

    // Without Retry-After.
    app.admin(
        Method::POST,
        "/admin/faults",
        Some(json!({"rate_limit": {"requests_per_hour": 2, "retry_after": false}})),
    )
    .await;
    assert_eq!(
        app.get("/v1/my/userinfo", &t.access).await.0,
        StatusCode::OK
    );
    assert_eq!(app.get("/v1/my/stats", &t.access).await.0, StatusCode::OK);
    let response = app
        .client
        .get(app.url("/v1/my/userinfo"))
        .bearer_auth(&t.access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().get("retry-after").is_none());

    let (status, faults) = app.admin(Method::DELETE, "/admin/faults", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(faults["rate_limit"], Value::Null);
    assert_eq!(
        app.get("/v1/my/userinfo", &t.access).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn delay_dropped_connection_and_refresh_failure() {
    let app = TestApp::small().await;
    let t = app.login().await;
    app.admin(
        Method::POST,
        "/admin/faults",
        Some(json!({"delay_ms": 300})),
    )
    .await;
    let started = Instant::now();
    assert_eq!(
        app.get("/v1/my/userinfo", &t.access).await.0,
        StatusCode::OK
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
    app.admin(
        Method::POST,
        "/admin/faults",
        Some(json!({"delay_ms": 0, "drop_next": 1})),
    )
    .await;

    let dropped = async {
        app.client
            .get(app.url("/v1/my/activities/search"))
            .bearer_auth(&t.access)
            .send()
            .await?
            .text()
            .await
    };
    assert!(dropped.await.is_err(), "the connection is dropped");
    assert_eq!(
        app.get("/v1/my/userinfo", &t.access).await.0,
        StatusCode::OK
    );

    app.admin(
        Method::POST,
        "/admin/faults",
        Some(json!({"invalid_grant_next": 1})),
    )
    .await;
    let failed = app.refresh(&t.refresh).await;
    assert_eq!(failed.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        failed.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    assert_eq!(app.refresh(&t.refresh).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn bad_admin_input_is_a_json_400_never_a_500() {
    let app = TestApp::small().await;
    let raw = |method: Method, path: &'static str, body: &'static str| {
        let (client, url) = (app.client.clone(), app.url(path));
        async move {
            let response = client
                .request(method, url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = response.status();
            let body: Value = response.json().await.unwrap();
            assert!(body["error"].is_string(), "{path}: {body}");
            status
        }
    };
    assert_eq!(
        raw(Method::POST, "/admin/activities", "not json").await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        raw(Method::POST, "/admin/activities", "[1]").await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        raw(
            Method::POST,
            "/admin/activities",
            r#"{"startDateTimeLocal": "2024-01-01T07:00:00-05:00", "distance": 5}"#
        )
        .await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        raw(
            Method::POST,
            "/admin/activities",
            r#"{"startDateTimeLocal": "Monday", "distance": 5, "duration": 10}"#
        )
        .await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(raw(Method::POST, "/admin/activities", r#"{"startDateTimeLocal": "2024-01-01T07:00:00-05:00", "distance": "far", "duration": 10}"#).await, StatusCode::BAD_REQUEST);
    assert_eq!(
        raw(Method::PATCH, "/admin/activities/1", r#"{"notes": "x"}"#).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        raw(Method::PATCH, "/admin/activities/abc", r#"{"notes": "x"}"#).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        raw(Method::DELETE, "/admin/activities/1", "").await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        raw(
            Method::POST,
            "/admin/faults",
            r#"{"fail_next": {"status": 200}}"#
        )
        .await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        raw(
            Method::POST,
            "/admin/faults",
            r#"{"rate_limit": {"requests_per_hour": -1}}"#
        )
        .await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        raw(Method::POST, "/admin/faults", r#"{"typo": 1}"#).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        raw(
            Method::POST,
            "/admin/clock/advance",
            r#"{"seconds": "soon"}"#
        )
        .await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        raw(Method::GET, "/no/such/route", "").await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        raw(Method::DELETE, "/v1/my/userinfo", "").await,
        StatusCode::METHOD_NOT_ALLOWED
    );

    // An existing id cannot be added twice; a patch cannot change the id; an invalid patch changes nothing.
    let (_, all) = app.admin(Method::GET, "/admin/activities", None).await;
    let first = all[0].clone();
    let id = first["activityId"].as_i64().unwrap();
    let (status, _) = app
        .admin(Method::POST, "/admin/activities", Some(first.clone()))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = app
        .admin(
            Method::PATCH,
            &format!("/admin/activities/{id}"),
            Some(json!({"activityId": id + 1})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app
        .admin(
            Method::PATCH,
            &format!("/admin/activities/{id}"),
            Some(json!({"duration": "long"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, unchanged) = app
        .admin(Method::GET, &format!("/admin/activities/{id}"), None)
        .await;
    assert_eq!(unchanged, first);

    // A full SmashRun object keeps its values (only the dates move) and its key order.
    let mut copy = first.clone();
    copy.as_object_mut().unwrap().remove("activityId");
    let response = app
        .client
        .post(app.url("/admin/activities"))
        .json(&copy)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let text = response.text().await.unwrap();
    assert!(
        text.starts_with("{\"activityId\":") && text.contains("\"dateCreatedUTC\""),
        "{text}"
    );
    let added: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(added["activityId"], id + 1, "the next id after the newest");
    for key in [
        "distance",
        "duration",
        "startLatitude",
        "heartRateMax",
        "source",
        "calories",
        "syncDateTimeUTC",
    ] {
        assert_eq!(added.get(key), first.get(key), "{key}");
    }
    assert_eq!(
        added.as_object().unwrap().len(),
        first.as_object().unwrap().len()
    );
}
