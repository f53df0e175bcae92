//! The OAuth 2.0 flow and token checks.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use smashrun_sandbox::{Profile, RefreshPolicy, SandboxConfig};

use crate::helpers::{
    CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, TestApp, config, query_param, tokens,
};

#[tokio::test]
async fn code_flow_redirect_carries_state_and_code_is_single_use() {
    let app = TestApp::small().await;
    let state = "a b&c=d/é?#x";
    let redirect = "http://127.0.0.1:9/cb?session=7";
    let response = app
        .client
        .get(app.url("/oauth2/authenticate"))
        .query(&[
            ("client_id", CLIENT_ID),
            ("scope", "read_activity"),
            ("redirect_uri", redirect),
            ("response_type", "code"),
            ("state", state),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("http://127.0.0.1:9/cb?session=7&code="),
        "{location}"
    );
    assert_eq!(query_param(&location, "state").as_deref(), Some(state));
    assert_eq!(query_param(&location, "session").as_deref(), Some("7"));
    let code = query_param(&location, "code").unwrap();
    assert!(
        code.len() >= 16 && code.chars().all(|c| c.is_ascii_alphanumeric()),
        "{code}"
    );

    let exchange = |redirect_uri: &'static str| {
        let (client, url, code) = (app.client.clone(), app.url("/oauth2/token"), code.clone());
        async move {
            client
                .post(url)
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("client_id", CLIENT_ID),
                    ("client_secret", CLIENT_SECRET),
                    ("code", &code),
                    ("redirect_uri", redirect_uri),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    // A different redirect_uri is refused (and does not use up the code).
    let mismatch = exchange(REDIRECT_URI).await;
    assert_eq!(mismatch.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        mismatch.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );

    let ok = exchange("http://127.0.0.1:9/cb?session=7").await;
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(ok.headers()["cache-control"], "no-store");
    let text = ok.text().await.unwrap();
    assert!(
        text.starts_with("{\"access_token\":\""),
        "SmashRun field order: {text}"
    );
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 7_257_600);
    let t = tokens(&body);
    assert_ne!(t.access, t.refresh);

    let again = exchange("http://127.0.0.1:9/cb?session=7").await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    let body: Value = again.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    assert!(body["error_description"].as_str().unwrap().contains("used"));

    let (status, info) = app.get("/v1/my/userinfo", &t.access).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(info["id"], 101);
}

#[tokio::test]
async fn token_endpoint_errors() {
    let app = TestApp::small().await;
    let code = app.authorize("x").await;
    let post = |form: Vec<(&'static str, String)>| {
        let (client, url) = (app.client.clone(), app.url("/oauth2/token"));
        async move {
            let response = client.post(url).form(&form).send().await.unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        }
    };
    let creds = |secret: &str| {
        vec![
            ("client_id", CLIENT_ID.to_owned()),
            ("client_secret", secret.to_owned()),
        ]
    };

    let mut bad_secret = creds("wrong");
    bad_secret.extend([
        ("grant_type", "authorization_code".into()),
        ("code", code.clone()),
        ("redirect_uri", REDIRECT_URI.into()),
    ]);
    let (status, body) = post(bad_secret).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        json!({"error": "invalid_client", "error_description": "Could not authenticate with client_id and client_secret"})
    );

    let mut unknown_code = creds(CLIENT_SECRET);
    unknown_code.extend([
        ("grant_type", "authorization_code".into()),
        ("code", "nope".into()),
        ("redirect_uri", REDIRECT_URI.into()),
    ]);
    assert_eq!(
        post(unknown_code).await,
        (
            StatusCode::BAD_REQUEST,
            json!({"error": "invalid_grant", "error_description": "The authorization code is invalid or has already been used"})
        )
    );

    let mut password = creds(CLIENT_SECRET);
    password.push(("grant_type", "password".into()));
    let (status, body) = post(password).await;
    assert_eq!(
        (status, body["error"].as_str().unwrap()),
        (StatusCode::BAD_REQUEST, "unsupported_grant_type")
    );

    let mut missing = creds(CLIENT_SECRET);
    missing.push(("grant_type", "authorization_code".into()));
    let (status, body) = post(missing).await;
    assert_eq!(
        (status, body["error"].as_str().unwrap()),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );

    let (status, body) = post(creds(CLIENT_SECRET)).await;
    assert_eq!(
        (status, body["error"].as_str().unwrap()),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );

    let mut bad_refresh = creds(CLIENT_SECRET);
    bad_refresh.extend([
        ("grant_type", "refresh_token".into()),
        ("refresh_token", "nope".into()),
    ]);
    let (status, body) = post(bad_refresh).await;
    assert_eq!(
        (status, body["error"].as_str().unwrap()),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );

    // A JSON body is not a form: a 400, not a crash.
    let response = app
        .client
        .post(app.url("/oauth2/token"))
        .json(&json!({"grant_type": "authorization_code", "client_id": CLIENT_ID}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );

    // The code was not used by any of the failures above; HTTP Basic client authentication works too.
    let response = app
        .client
        .post(app.url("/oauth2/token"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn authorize_errors() {
    let app = TestApp::small().await;
    let get = |params: Vec<(&'static str, &'static str)>| {
        let (client, url) = (app.client.clone(), app.url("/oauth2/authenticate"));
        async move {
            let response = client.get(url).query(&params).send().await.unwrap();
            let status = response.status();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = get(vec![
        ("client_id", "someone-else"),
        ("redirect_uri", REDIRECT_URI),
        ("response_type", "code"),
    ])
    .await;
    assert_eq!(
        (status, body["error"].as_str().unwrap()),
        (StatusCode::BAD_REQUEST, "invalid_client")
    );
    let (status, body) = get(vec![
        ("client_id", CLIENT_ID),
        ("redirect_uri", REDIRECT_URI),
        ("response_type", "token"),
    ])
    .await;
    assert_eq!(
        (status, body["error"].as_str().unwrap()),
        (StatusCode::BAD_REQUEST, "unsupported_response_type")
    );
    let (status, body) = get(vec![("client_id", CLIENT_ID), ("response_type", "code")]).await;
    assert_eq!(
        (status, body["error"].as_str().unwrap()),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );

    // A browser gets an HTML page.
    let response = app
        .client
        .get(app.url("/oauth2/authenticate?client_id=x&response_type=code&redirect_uri=http://a/b"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
}

#[tokio::test]
async fn consent_page_then_approve_or_deny() {
    let app = TestApp::start(SandboxConfig {
        auto_approve: false,
        ..config(Profile::Small)
    })
    .await;
    let response = app
        .client
        .get(app.url("/oauth2/authenticate"))
        .query(&[
            ("client_id", CLIENT_ID),
            ("scope", "read_activity"),
            ("redirect_uri", REDIRECT_URI),
            ("response_type", "code"),
            ("state", "<s>"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("<form method=\"post\" action=\"/oauth2/authenticate\">"),
        "{html}"
    );
    assert!(
        html.contains("value=\"&lt;s&gt;\""),
        "state is escaped: {html}"
    );

    let form = |decision: &'static str| {
        vec![
            ("client_id", CLIENT_ID),
            ("scope", "read_activity"),
            ("redirect_uri", REDIRECT_URI),
            ("response_type", "code"),
            ("state", "<s>"),
            ("decision", decision),
        ]
    };
    let approved = app
        .client
        .post(app.url("/oauth2/authenticate"))
        .form(&form("approve"))
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), StatusCode::FOUND);
    let location = approved.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(query_param(&location, "state").as_deref(), Some("<s>"));
    let code = query_param(&location, "code").unwrap();
    assert_eq!(app.exchange(&code).await.status(), StatusCode::OK);

    let denied = app
        .client
        .post(app.url("/oauth2/authenticate"))
        .form(&form("deny"))
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), StatusCode::FOUND);
    let location = denied.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(query_param(&location, "code"), None);
}

#[tokio::test]
async fn refresh_policies() {
    // Reusable: the same refresh token comes back; both access tokens work.
    let app = TestApp::small().await;
    let first = app.login().await;
    let response = app.refresh(&first.refresh).await;
    assert_eq!(response.status(), StatusCode::OK);
    let second = tokens(&response.json().await.unwrap());
    assert_eq!(second.refresh, first.refresh);
    assert_ne!(second.access, first.access);
    assert_eq!(
        app.get("/v1/my/userinfo", &first.access).await.0,
        StatusCode::OK
    );
    assert_eq!(
        app.get("/v1/my/userinfo", &second.access).await.0,
        StatusCode::OK
    );
    assert_eq!(app.refresh(&first.refresh).await.status(), StatusCode::OK);

    // Rotating: a new refresh token each time, the old one stops working.
    let app = TestApp::start(SandboxConfig {
        refresh_policy: RefreshPolicy::Rotating,
        ..config(Profile::Small)
    })
    .await;
    let first = app.login().await;
    let response = app.refresh(&first.refresh).await;
    assert_eq!(response.status(), StatusCode::OK);
    let second = tokens(&response.json().await.unwrap());
    assert_ne!(second.refresh, first.refresh);
    let reuse = app.refresh(&first.refresh).await;
    assert_eq!(reuse.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        reuse.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    assert_eq!(app.refresh(&second.refresh).await.status(), StatusCode::OK);

    // Expiring: valid for 30 days from issue (the sandbox clock is moved forward).
    let app = TestApp::start(SandboxConfig {
        refresh_policy: RefreshPolicy::Expiring,
        expires_in: 3600,
        ..config(Profile::Small)
    })
    .await;
    let first = app.login().await;
    let (status, _) = app
        .admin(
            Method::POST,
            "/admin/clock/advance",
            Some(json!({"seconds": 29 * 86_400})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        app.get("/v1/my/userinfo", &first.access).await.0,
        StatusCode::UNAUTHORIZED,
        "the 1-hour access token expired"
    );
    let response = app.refresh(&first.refresh).await;
    assert_eq!(response.status(), StatusCode::OK);
    let second = tokens(&response.json().await.unwrap());
    assert_eq!(second.refresh, first.refresh);
    app.admin(
        Method::POST,
        "/admin/clock/advance",
        Some(json!({"seconds": 86_400})),
    )
    .await;
    assert_eq!(
        app.refresh(&first.refresh).await.status(),
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn v1_needs_a_valid_token() {
    let app = TestApp::small().await;
    let response = app
        .client
        .get(app.url("/v1/my/activities/search"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "invalid_token"
    );
    assert_eq!(
        app.get("/v1/my/activities/search", "made-up").await.0,
        StatusCode::UNAUTHORIZED
    );

    let t = app.login().await;
    assert_eq!(
        app.get("/v1/my/activities/search", &t.access).await.0,
        StatusCode::OK
    );
    let by_query = app
        .client
        .get(app.url(&format!("/v1/my/userinfo?access_token={}", t.access)))
        .send()
        .await
        .unwrap();
    assert_eq!(by_query.status(), StatusCode::OK);
    let (status, body) = app.get(&format!("/v1/auth/{}", t.access), &t.access).await;
    assert_eq!(status, StatusCode::OK);
    let left = body["expires_in"].as_i64().unwrap();
    assert!((7_257_500..=7_257_600).contains(&left), "{left}");

    // Expired by the admin: 401 until the client refreshes.
    let (status, body) = app.admin(Method::POST, "/admin/tokens/expire", None).await;
    assert_eq!(
        (status, body["expiredAccessTokens"].as_u64()),
        (StatusCode::OK, Some(1))
    );
    let (status, body) = app.get("/v1/my/activities/search", &t.access).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_token"))
    );
    let response = app.refresh(&t.refresh).await;
    assert_eq!(response.status(), StatusCode::OK);
    let renewed = tokens(&response.json().await.unwrap());
    assert_eq!(
        app.get("/v1/my/activities/search", &renewed.access).await.0,
        StatusCode::OK
    );

    // Expiring refresh tokens too makes refreshing fail.
    app.admin(Method::POST, "/admin/tokens/expire?refresh=true", None)
        .await;
    assert_eq!(
        app.refresh(&t.refresh).await.status(),
        StatusCode::BAD_REQUEST
    );

    // Revoked: access and refresh tokens are gone.
    let t = app.login().await;
    app.admin(Method::POST, "/admin/tokens/revoke", None).await;
    assert_eq!(
        app.get("/v1/my/userinfo", &t.access).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.refresh(&t.refresh).await.status(),
        StatusCode::BAD_REQUEST
    );
}
