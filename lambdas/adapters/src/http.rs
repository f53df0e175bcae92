//! The one HTTP client configuration, shared by the SmashRun and Supabase adapters and, in the
//! Lambdas, by the AWS SDK (`aws_http`).

use std::time::Duration;

use crate::BoxError;

/// Largest body read from SmashRun or PostgREST: a page of 100 activities is about 100 KB.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

pub fn client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(25))
        .user_agent(concat!("myrunstreak/", env!("CARGO_PKG_VERSION")))
        // SmashRun and PostgREST answer where they are asked; a redirect to another host would
        // carry a bearer token there and bring back whatever that host says.
        .redirect(reqwest::redirect::Policy::none())
        .tls_backend_preconfigured(stk_tls::client_config())
        .build()
}

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the connection failed while reading the body")]
    Transport(#[source] reqwest::Error),
    #[error("the body is larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
}

/// Reads a body without trusting its size.
pub async fn read_limited(mut response: reqwest::Response) -> Result<Vec<u8>, BodyError> {
    if response
        .content_length()
        .is_some_and(|len| len > MAX_BODY_BYTES as u64)
    {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

pub fn boxed(e: impl std::error::Error + Send + Sync + 'static) -> BoxError {
    Box::new(e)
}
