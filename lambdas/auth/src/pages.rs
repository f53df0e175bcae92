//! The small HTML pages the browser lands on after SmashRun.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

fn escape(text: &str) -> String {
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

fn page(status: StatusCode, title: &str, message: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{title}</title></head>\n\
         <body style=\"font-family: sans-serif; max-width: 32em; margin: 3em auto\">\n\
         <h1>{title}</h1>\n<p>{message}</p>\n</body></html>\n",
        title = escape(title),
        message = escape(message),
    );
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        html,
    )
        .into_response()
}

pub fn signed_in(name: &str) -> Response {
    page(
        StatusCode::OK,
        "MyRunStreak: signed in",
        &format!("Signed in as {name}. Go back to your terminal: stk is finishing the login."),
    )
}

pub fn failed(status: StatusCode, why: &str) -> Response {
    page(status, "MyRunStreak: not signed in", why)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_escaped() {
        assert_eq!(
            escape("<b>\"Jo\" & 'Al'</b>"),
            "&lt;b&gt;&quot;Jo&quot; &amp; &#39;Al&#39;&lt;/b&gt;"
        );
    }
}
