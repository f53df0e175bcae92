//! Logging in (`stk auth login`), who a key belongs to (`GET /me`) and logging out.
//!
//! The CLI keeps a random session secret and sends only its SHA-256 when it opens a login
//! session; it proves the session is its own by sending the secret when it picks the key up.

use serde::{Deserialize, Serialize};

/// `POST /auth/sessions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginSessionRequest {
    /// SHA-256 of the session secret, 64 lowercase hex characters.
    pub secret_sha256: String,
}

/// `201` to `POST /auth/sessions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginSession {
    pub session_id: String,
    /// SmashRun's consent page; it sends the browser back to `GET /auth/callback`.
    pub authorize_url: String,
    /// RFC 3339; the session, and any code it did not use, are dead after this.
    pub expires_at: String,
    /// How often to ask `POST /auth/sessions/{id}/token`.
    pub poll_interval_ms: u64,
    /// The OAuth `state` this session expects back, for a code pasted by hand
    /// (`POST /auth/callback`).
    pub state: String,
}

/// `POST /auth/sessions/{id}/token`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyPickup {
    pub session_secret: String,
}

/// `202` to `POST /auth/sessions/{id}/token`: the runner has not finished in the browser yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginPending {
    pub status: LoginPendingStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginPendingStatus {
    Pending,
}

/// `200` to `POST /auth/sessions/{id}/token`, once: the new API key (minted now, shown once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedKey {
    pub api_key: String,
    pub user_id: String,
    /// The runner's SmashRun name, to greet them.
    pub name: String,
}

/// `POST /auth/callback`: a code copied by hand from the browser's address bar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManualCallback {
    pub code: String,
    pub state: String,
}

/// `200` to `POST /auth/callback`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Linked {
    pub name: String,
}

/// `POST /auth/logout` (an empty body revokes the key used).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogoutRequest {
    /// Revoke every key of the user, not only the one used.
    #[serde(default)]
    pub all: bool,
}

/// `200` to `POST /auth/logout`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedOut {
    pub revoked: u64,
}

/// `GET /me`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Me {
    pub user_id: String,
    pub name: Option<String>,
    pub smashrun: Option<SmashrunLink>,
    pub key: KeyInfo,
    /// RFC 3339: when a sync last finished for this user.
    pub last_sync_at: Option<String>,
}

/// The linked SmashRun account and the health of its tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SmashrunLink {
    pub account_id: String,
    pub user_name: Option<String>,
    /// Seconds until the access token expires (negative once it has; the worker refreshes it).
    pub token_expires_in_s: i64,
    /// RFC 3339.
    pub token_refreshed_at: String,
    /// SmashRun refused the tokens: `stk auth login` links the account again.
    pub needs_relink: bool,
}

/// The key the request was made with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyInfo {
    pub prefix: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339; written at most about once an hour.
    pub last_used_at: Option<String>,
}
