//! Shared test helpers: a sandbox per test, a reqwest client that does not follow redirects, and a login.

use reqwest::StatusCode;
use serde_json::Value;
use smashrun_sandbox::{DataSource, Profile, RunningSandbox, SandboxConfig, spawn};
use time::Date;
use time::macros::date;

/// A fixed "today" so that generated data does not depend on the day the tests run.
pub const TODAY: Date = date!(2025 - 06 - 15);
pub const CLIENT_ID: &str = "test-client";
pub const CLIENT_SECRET: &str = "test-secret";
pub const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";

pub fn config(profile: Profile) -> SandboxConfig {
    SandboxConfig {
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        data: DataSource::Generated { profile, seed: 42 },
        today: Some(TODAY),
        ..SandboxConfig::default()
    }
}

pub struct TestApp {
    pub running: RunningSandbox,
    pub client: reqwest::Client,
}

#[derive(Debug, Clone)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
}

impl TestApp {
    pub async fn start(config: SandboxConfig) -> Self {
        let running = spawn(config).await.expect("sandbox starts");
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self { running, client }
    }

    pub async fn small() -> Self {
        Self::start(config(Profile::Small)).await
    }

    pub fn url(&self, path: &str) -> String {
        self.running.url(path)
    }

    /// Runs the authorisation-code flow and returns the code from the redirect.
    pub async fn authorize(&self, state: &str) -> String {
        let response = self
            .client
            .get(self.url("/oauth2/authenticate"))
            .query(&[
                ("client_id", CLIENT_ID),
                ("scope", "read_activity"),
                ("redirect_uri", REDIRECT_URI),
                ("response_type", "code"),
                ("state", state),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FOUND);
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        query_param(&location, "code").expect("code in the redirect")
    }

    pub async fn exchange(&self, code: &str) -> reqwest::Response {
        self.client
            .post(self.url("/oauth2/token"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
                ("code", code),
                ("redirect_uri", REDIRECT_URI),
            ])
            .send()
            .await
            .unwrap()
    }

    pub async fn refresh(&self, refresh_token: &str) -> reqwest::Response {
        self.client
            .post(self.url("/oauth2/token"))
            .form(&[
                ("grant_type", "refresh_token"),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
                ("refresh_token", refresh_token),
            ])
            .send()
            .await
            .unwrap()
    }

    pub async fn login(&self) -> Tokens {
        let code = self.authorize("s").await;
        let response = self.exchange(&code).await;
        assert_eq!(response.status(), StatusCode::OK);
        tokens(&response.json::<Value>().await.unwrap())
    }

    /// GET with a bearer token; returns the status and the body as JSON (`Null` if empty).
    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let response = self
            .client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (
            status,
            if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap()
            },
        )
    }

    pub async fn get_text(&self, path: &str, token: &str) -> (StatusCode, String) {
        let response = self
            .client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        (response.status(), response.text().await.unwrap())
    }

    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.client.request(method, self.url(path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (
            status,
            if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap()
            },
        )
    }
}

pub fn tokens(body: &Value) -> Tokens {
    Tokens {
        access: body["access_token"].as_str().unwrap().to_owned(),
        refresh: body["refresh_token"].as_str().unwrap().to_owned(),
    }
}

fn hex(b: u8) -> Option<u8> {
    char::from(b).to_digit(16).map(|d| d as u8)
}

/// Decodes one query parameter of a URL (percent-decoding, `+` as space).
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1.split('#').next()?;
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key == name {
            let bytes = value.as_bytes();
            let mut out = Vec::new();
            let mut i = 0;
            while i < bytes.len() {
                match bytes[i] {
                    b'%' if i + 2 < bytes.len() => {
                        out.push(hex(bytes[i + 1])? * 16 + hex(bytes[i + 2])?);
                        i += 3;
                    }
                    b'+' => {
                        out.push(b' ');
                        i += 1;
                    }
                    b => {
                        out.push(b);
                        i += 1;
                    }
                }
            }
            return String::from_utf8(out).ok();
        }
    }
    None
}

/// Local dates (the date part of `startDateTimeLocal`) of a list of activities, sorted and distinct.
pub fn local_dates(activities: &[Value]) -> Vec<Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let mut dates: Vec<Date> = activities
        .iter()
        .map(|a| Date::parse(&a["startDateTimeLocal"].as_str().unwrap()[..10], &format).unwrap())
        .collect();
    dates.sort();
    dates.dedup();
    dates
}

/// An independent longest-streak computation: (days, first day).
pub fn longest_streak(dates: &[Date]) -> (u32, Option<Date>) {
    let mut best = (0u32, None);
    let mut run = 0u32;
    let mut start = None;
    for (i, d) in dates.iter().enumerate() {
        if i > 0 && dates[i - 1].next_day() == Some(*d) {
            run += 1;
        } else {
            run = 1;
            start = Some(*d);
        }
        if run > best.0 {
            best = (run, start);
        }
    }
    best
}
