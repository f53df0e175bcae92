//! `/oauth2/authenticate` (consent page or auto-approval) and `/oauth2/token`.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Query, State};
use axum::http::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, LOCATION, PRAGMA};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

use super::{ApiError, json_response, query_map};
use crate::activity::Fields;
use crate::server::Sandbox;

/// The out-of-band redirect: the code is shown on a page instead.
const OOB: &str = "urn:ietf:wg:oauth:2.0:oob";

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub(crate) fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `redirect_uri` plus query parameters, before any `#fragment`, joined with `?` or `&`.
pub(crate) fn with_query(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    let (base, fragment) = match redirect_uri.split_once('#') {
        Some((base, fragment)) => (base, Some(fragment)),
        None => (redirect_uri, None),
    };
    let mut out = base.to_owned();
    let mut separator = if base.contains('?') {
        if base.ends_with('?') || base.ends_with('&') {
            ""
        } else {
            "&"
        }
    } else {
        "?"
    };
    for (key, value) in params {
        out.push_str(separator);
        out.push_str(key);
        out.push('=');
        out.push_str(&url_encode(value));
        separator = "&";
    }
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head>\n<body style=\"font-family:sans-serif;max-width:40em;margin:3em auto\">\n{body}\n</body></html>\n",
        html_escape(title)
    )
}

/// An authorisation error for a person (HTML) or a program (JSON), never redirected: the redirect URI cannot be
/// trusted yet.
fn authorize_error(
    headers: &HeaderMap,
    status: StatusCode,
    error: &'static str,
    description: &str,
) -> Response {
    let wants_html = headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    if wants_html {
        let body = format!(
            "<h1>Authorization failed</h1>\n<p><code>{error}</code>: {}</p>",
            html_escape(description)
        );
        (
            status,
            [(
                CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            )],
            page("Error", &body),
        )
            .into_response()
    } else {
        ApiError::new(status, error, description).into_response()
    }
}

/// The checked parameters of an authorisation request.
#[derive(Debug)]
struct AuthorizeRequest {
    client_id: String,
    redirect_uri: String,
    scope: String,
    state: Option<String>,
}

fn valid_redirect(uri: &str) -> bool {
    if uri == OOB {
        return true;
    }
    let Some((scheme, rest)) = uri.split_once(':') else {
        return false;
    };
    let scheme_ok = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    scheme_ok && !rest.is_empty() && uri.chars().all(|c| c.is_ascii_graphic())
}

fn check_authorize(
    sandbox: &Sandbox,
    params: &HashMap<String, String>,
) -> Result<AuthorizeRequest, (StatusCode, &'static str, String)> {
    let get = |k: &str| {
        params
            .get(k)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let client_id = get("client_id").ok_or((
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "client_id is required".to_owned(),
    ))?;
    if client_id != sandbox.settings().client_id {
        return Err((
            StatusCode::BAD_REQUEST,
            "invalid_client",
            format!("Unknown client_id {client_id:?}"),
        ));
    }
    let redirect_uri = get("redirect_uri").ok_or((
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "redirect_uri is required".to_owned(),
    ))?;
    if !valid_redirect(&redirect_uri) {
        return Err((
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("redirect_uri is not an absolute URI: {redirect_uri:?}"),
        ));
    }
    match get("response_type").as_deref() {
        Some("code") => {}
        Some(other) => {
            return Err((
                StatusCode::BAD_REQUEST,
                "unsupported_response_type",
                format!("response_type must be code, got {other:?}"),
            ));
        }
        None => {
            return Err((
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "response_type is required (code)".to_owned(),
            ));
        }
    }
    let scope = get("scope").unwrap_or_else(|| "read_activity".to_owned());
    // The state is echoed exactly, spaces included.
    let state = params.get("state").cloned();
    Ok(AuthorizeRequest {
        client_id,
        redirect_uri,
        scope,
        state,
    })
}

/// Issues a code and sends the browser back (or shows the code, for the out-of-band redirect).
fn grant(sandbox: &Sandbox, request: &AuthorizeRequest) -> Response {
    let now = sandbox.now();
    let code = sandbox.lock().auth.issue_code(
        &request.client_id,
        &request.redirect_uri,
        &request.scope,
        now,
    );
    if request.redirect_uri == OOB {
        let mut title = format!("Success code={code}");
        if let Some(state) = &request.state {
            title.push_str("&state=");
            title.push_str(&url_encode(state));
        }
        let body = format!(
            "<h1>Authorization code</h1>\n<p>Copy this code into the application:</p>\n<p><code id=\"code\">{code}</code></p>"
        );
        return (
            StatusCode::OK,
            [(
                CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            )],
            page(&title, &body),
        )
            .into_response();
    }
    let mut params = vec![("code", code.as_str())];
    if let Some(state) = &request.state {
        params.push(("state", state.as_str()));
    }
    redirect(&with_query(&request.redirect_uri, &params))
}

fn redirect(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => (StatusCode::FOUND, [(LOCATION, value)]).into_response(),
        Err(_) => ApiError::bad_request("redirect_uri cannot be used in a Location header")
            .into_response(),
    }
}

fn consent_page(request: &AuthorizeRequest) -> Response {
    let hidden = |name: &str, value: &str| {
        format!(
            "<input type=\"hidden\" name=\"{name}\" value=\"{}\">\n",
            html_escape(value)
        )
    };
    let mut form = String::from("<form method=\"post\" action=\"/oauth2/authenticate\">\n");
    form.push_str(&hidden("client_id", &request.client_id));
    form.push_str(&hidden("redirect_uri", &request.redirect_uri));
    form.push_str(&hidden("response_type", "code"));
    form.push_str(&hidden("scope", &request.scope));
    if let Some(state) = &request.state {
        form.push_str(&hidden("state", state));
    }
    form.push_str("<button type=\"submit\" name=\"decision\" value=\"approve\">Allow</button>\n");
    form.push_str(
        "<button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button>\n</form>",
    );
    let body = format!(
        "<h1>SmashRun sandbox</h1>\n<p>The application <strong>{}</strong> asks to access your runs (scope <code>{}</code>).</p>\n{form}",
        html_escape(&request.client_id),
        html_escape(&request.scope)
    );
    (
        StatusCode::OK,
        [(
            CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        page("Authorize application - SmashRun sandbox", &body),
    )
        .into_response()
}

/// `GET /oauth2/authenticate`.
pub(super) async fn authenticate(
    State(sandbox): State<Sandbox>,
    headers: HeaderMap,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Response {
    let params = match query_map(query) {
        Ok(params) => params,
        Err(e) => return e.into_response(),
    };
    match check_authorize(&sandbox, &params) {
        Err((status, error, description)) => authorize_error(&headers, status, error, &description),
        Ok(request) if sandbox.settings().auto_approve => grant(&sandbox, &request),
        Ok(request) => consent_page(&request),
    }
}

/// `POST /oauth2/authenticate`: the consent form.
pub(super) async fn approve(
    State(sandbox): State<Sandbox>,
    headers: HeaderMap,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Response {
    let params = match form {
        Ok(Form(params)) => params,
        Err(e) => {
            return authorize_error(
                &headers,
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &format!("expected a form: {}", e.body_text()),
            );
        }
    };
    let request = match check_authorize(&sandbox, &params) {
        Ok(request) => request,
        Err((status, error, description)) => {
            return authorize_error(&headers, status, error, &description);
        }
    };
    match params.get("decision").map(String::as_str) {
        Some("approve") => grant(&sandbox, &request),
        Some("deny") => {
            let mut query = vec![
                ("error", "access_denied"),
                ("error_description", "The user denied access"),
            ];
            if let Some(state) = &request.state {
                query.push(("state", state.as_str()));
            }
            if request.redirect_uri == OOB {
                return authorize_error(
                    &headers,
                    StatusCode::FORBIDDEN,
                    "access_denied",
                    "The user denied access",
                );
            }
            redirect(&with_query(&request.redirect_uri, &query))
        }
        _ => authorize_error(
            &headers,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "decision must be approve or deny",
        ),
    }
}

fn token_error(
    status: StatusCode,
    error: &'static str,
    description: impl Into<String>,
) -> Response {
    let mut response = ApiError::new(status, error, description).into_response();
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Client credentials from HTTP Basic authentication, if sent.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

/// `POST /oauth2/token` (form-encoded): `authorization_code` and `refresh_token` grants.
pub(super) async fn token(
    State(sandbox): State<Sandbox>,
    headers: HeaderMap,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Response {
    let params = match form {
        Ok(Form(params)) => params,
        Err(e) => {
            return token_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!(
                    "the body must be application/x-www-form-urlencoded: {}",
                    e.body_text()
                ),
            );
        }
    };
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let credentials = match (get("client_id"), get("client_secret")) {
        (Some(id), Some(secret)) => Some((id.to_owned(), secret.to_owned())),
        _ => basic_credentials(&headers),
    };
    let settings = sandbox.settings();
    let Some((client_id, _)) = credentials
        .filter(|(id, secret)| *id == settings.client_id && *secret == settings.client_secret)
    else {
        return token_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Could not authenticate with client_id and client_secret",
        );
    };
    let now = sandbox.now();
    let issued = match get("grant_type") {
        None => {
            return token_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is required",
            );
        }
        Some("authorization_code") => {
            let (Some(code), Some(redirect_uri)) = (get("code"), get("redirect_uri")) else {
                return token_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "code and redirect_uri are required",
                );
            };
            let mut state = sandbox.lock();
            match state.auth.redeem_code(code, &client_id, redirect_uri, now) {
                Ok(scope) => state
                    .auth
                    .issue_pair(&client_id, &scope, settings.expires_in, now),
                Err(e) => {
                    return token_error(StatusCode::BAD_REQUEST, "invalid_grant", e.description());
                }
            }
        }
        Some("refresh_token") => {
            let Some(refresh_token) = get("refresh_token") else {
                return token_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "refresh_token is required",
                );
            };
            let mut state = sandbox.lock();
            if state.faults.take_invalid_grant() {
                return token_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "The refresh token is invalid or has been revoked",
                );
            }
            match state.auth.refresh(
                refresh_token,
                &client_id,
                settings.refresh_policy,
                settings.expires_in,
                now,
            ) {
                Ok(issued) => issued,
                Err(e) => {
                    return token_error(StatusCode::BAD_REQUEST, "invalid_grant", e.description());
                }
            }
        }
        Some(other) => {
            return token_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                format!("grant_type {other:?} is not supported"),
            );
        }
    };
    let mut body = Fields::with_capacity(5);
    body.push("access_token", issued.access_token);
    body.push("token_type", "Bearer");
    body.push("expires_in", issued.expires_in);
    body.push("refresh_token", issued.refresh_token);
    if let Some(state) = params.get("state") {
        body.push("state", state.clone());
    }
    let mut response = json_response(StatusCode::OK, body.to_json());
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
        .headers_mut()
        .insert(PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_building() {
        assert_eq!(
            with_query(
                "http://127.0.0.1:8/cb",
                &[("code", "A1"), ("state", "x y&z=1/ü")]
            ),
            "http://127.0.0.1:8/cb?code=A1&state=x%20y%26z%3D1%2F%C3%BC"
        );
        assert_eq!(
            with_query("http://h/cb?session=1", &[("code", "A")]),
            "http://h/cb?session=1&code=A"
        );
        assert_eq!(
            with_query("http://h/cb?", &[("code", "A")]),
            "http://h/cb?code=A"
        );
        assert_eq!(
            with_query("http://h/cb#frag", &[("code", "A")]),
            "http://h/cb?code=A#frag"
        );
        assert!(
            valid_redirect("myapp://callback")
                && valid_redirect(OOB)
                && !valid_redirect("/relative")
                && !valid_redirect("http://a b")
        );
    }
}
