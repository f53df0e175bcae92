//! Logging in: a login session links a runner's SmashRun account and hands the CLI that opened
//! it an API key, once.
//!
//! 1. The CLI keeps a random session secret and opens a session with its SHA-256
//!    ([`LoginService::start`]); the session gets a random single-use OAuth `state`.
//! 2. SmashRun sends the browser back with a code and that state ([`LoginService::callback`]):
//!    the state is claimed once, the code exchanged, the account read and linked.
//! 3. The CLI polls with the secret ([`LoginService::pickup`]); once linked, the key is minted at
//!    that moment (so no key ever rests in storage) and the session is spent.
//!
//! A wrong secret and an unknown session answer alike, so a session's existence is not told.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tracing::info;

use crate::auth::ApiKey;
use crate::clock::Clock;
use crate::error::{JobStoreError, SmashrunError, StoreError};
use crate::ids::UserId;
use crate::ports::{ApiKeyStore, SmashrunApi, SourceStore};
use crate::tokens::TokenSet;

/// How long a login may take, browser included.
pub const SESSION_LIFETIME: time::Duration = time::Duration::minutes(10);
/// How often the CLI should poll for its key.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// A login session's id: a v4 UUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionId(uuid::Uuid);

impl SessionId {
    pub fn random() -> Self {
        Self(uuid::Uuid::new_v4())
    }

    /// Only the canonical hyphenated form: ids are compared as text in storage.
    pub fn parse(text: &str) -> Option<Self> {
        let id = uuid::Uuid::try_parse(text).ok()?;
        (id.hyphenated().to_string() == text).then_some(Self(id))
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// SHA-256 of a session secret, as 64 lowercase hex characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretHash(String);

impl SecretHash {
    pub fn parse(text: &str) -> Option<Self> {
        let ok = text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        ok.then(|| Self(text.to_owned()))
    }

    pub fn of(secret: &SecretString) -> Self {
        Self(hex::encode(Sha256::digest(
            secret.expose_secret().as_bytes(),
        )))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn matches(&self, other: &Self) -> bool {
        same(&self.0, &other.0)
    }
}

/// Compares without an early exit, so timing tells nothing about the stored value.
fn same(stored: &str, presented: &str) -> bool {
    stored.len() == presented.len()
        && stored
            .bytes()
            .zip(presented.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// The OAuth `state` of a session: `<session id>.<256 random bits>`. It names its session, so
/// the callback finds it with one read; the random part makes it unguessable.
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthState(String);

impl fmt::Debug for OAuthState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OAuthState([redacted])")
    }
}

impl OAuthState {
    fn random(session: SessionId) -> Result<Self, LoginError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|_| LoginError::Random)?;
        Ok(Self(format!("{session}.{}", URL_SAFE_NO_PAD.encode(bytes))))
    }

    pub fn from_stored(text: String) -> Self {
        Self(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The session a presented state names, if it is of the right form.
    pub fn session_of(presented: &str) -> Option<SessionId> {
        let (id, random) = presented.split_once('.')?;
        (random.len() == 43).then_some(())?;
        SessionId::parse(id)
    }

    fn matches(&self, presented: &str) -> bool {
        same(&self.0, presented)
    }
}

/// Where a session is in its life. Spelled once: the storage adapter writes these names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionStatus {
    /// Waiting for the browser to come back.
    Pending,
    /// The state was claimed; the code is being exchanged.
    Exchanging,
    /// Linked to this user; the key has not been picked up yet.
    Linked { user: UserId, name: String },
    /// The login failed; the reason is safe to show.
    Failed { reason: String },
    /// The key was handed out.
    Spent,
}

impl SessionStatus {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Exchanging => "exchanging",
            Self::Linked { .. } => "linked",
            Self::Failed { .. } => "failed",
            Self::Spent => "spent",
        }
    }
}

#[derive(Debug, Clone)]
pub struct LoginSessionRecord {
    pub id: SessionId,
    pub secret_hash: SecretHash,
    pub state: OAuthState,
    pub status: SessionStatus,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// Login sessions in storage. Every transition is a conditional write: a state is claimed at
/// most once, and a key is handed out at most once.
#[async_trait]
pub trait LoginSessions: Send + Sync + fmt::Debug {
    async fn create(&self, session: &LoginSessionRecord) -> Result<(), JobStoreError>;
    /// The session, if it exists and has not expired.
    async fn get(
        &self,
        id: SessionId,
        now: OffsetDateTime,
    ) -> Result<Option<LoginSessionRecord>, JobStoreError>;
    /// `from` -> `to`; `Conflict` when the session is no longer in `from` (or has expired).
    async fn transition(
        &self,
        id: SessionId,
        from: &SessionStatus,
        to: &SessionStatus,
        now: OffsetDateTime,
    ) -> Result<(), JobStoreError>;
}

/// What SmashRun sent the browser back with.
#[derive(Debug, Clone, Default)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    /// `access_denied` when the runner refused.
    pub error: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("this sign-in link is not valid: start again with `stk auth login`")]
    BadState,
    #[error("this sign-in link was already used: start again with `stk auth login`")]
    StateUsed,
    #[error("this sign-in link has expired: start again with `stk auth login`")]
    Expired,
    #[error(
        "SmashRun access was not granted, so nothing was linked: run `stk auth login` and choose Allow"
    )]
    Denied,
    #[error("SmashRun did not accept the sign-in ({0}): start again with `stk auth login`")]
    Exchange(String),
    #[error("no such login session")]
    UnknownSession,
    #[error("this login session has already handed out its key: run `stk auth login` again")]
    Spent,
    #[error("this login failed: {0}")]
    Failed(String),
    #[error("the system random number generator failed")]
    Random,
    #[error("login storage is unavailable")]
    Sessions(#[source] JobStoreError),
    #[error("the account store is unavailable")]
    Store(#[source] StoreError),
    #[error("SmashRun could not be reached")]
    Smashrun(#[source] SmashrunError),
}

/// A freshly opened session.
#[derive(Debug)]
pub struct Started {
    pub session: LoginSessionRecord,
    pub authorize_url: String,
}

/// What a pickup found.
#[derive(Debug)]
pub enum Pickup {
    Pending,
    Issued {
        key: ApiKey,
        user: UserId,
        name: String,
    },
}

#[derive(Debug, Clone)]
pub struct LoginService {
    sessions: Arc<dyn LoginSessions>,
    smashrun: Arc<dyn SmashrunApi>,
    sources: Arc<dyn SourceStore>,
    keys: Arc<dyn ApiKeyStore>,
    clock: Arc<dyn Clock>,
}

impl LoginService {
    pub fn new(
        sessions: Arc<dyn LoginSessions>,
        smashrun: Arc<dyn SmashrunApi>,
        sources: Arc<dyn SourceStore>,
        keys: Arc<dyn ApiKeyStore>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            sessions,
            smashrun,
            sources,
            keys,
            clock,
        }
    }

    pub async fn start(&self, secret_hash: SecretHash) -> Result<Started, LoginError> {
        let id = SessionId::random();
        let now = self.clock.now();
        let session = LoginSessionRecord {
            id,
            secret_hash,
            state: OAuthState::random(id)?,
            status: SessionStatus::Pending,
            created_at: now,
            expires_at: now + SESSION_LIFETIME,
        };
        let authorize_url = self
            .smashrun
            .authorize_url(session.state.as_str())
            .await
            .map_err(LoginError::Smashrun)?;
        self.sessions
            .create(&session)
            .await
            .map_err(LoginError::Sessions)?;
        info!(session = %id, "login session opened");
        Ok(Started {
            session,
            authorize_url,
        })
    }

    /// Where SmashRun sends the browser. Creates nothing unless the state is claimed and the
    /// code exchanged; a refusal ends the session so the CLI can say why.
    pub async fn callback(&self, params: CallbackParams) -> Result<String, LoginError> {
        let presented = params.state.as_deref().unwrap_or_default();
        let id = OAuthState::session_of(presented).ok_or(LoginError::BadState)?;
        let now = self.clock.now();
        let session = self
            .sessions
            .get(id, now)
            .await
            .map_err(LoginError::Sessions)?
            .ok_or(LoginError::Expired)?;
        if !session.state.matches(presented) {
            return Err(LoginError::BadState);
        }
        if session.status != SessionStatus::Pending {
            return Err(LoginError::StateUsed);
        }
        if params.error.is_some() || params.code.is_none() {
            let denied = params.error.as_deref() == Some("access_denied");
            let failure = if denied {
                LoginError::Denied
            } else {
                LoginError::Exchange(params.error.unwrap_or_else(|| "no code".into()))
            };
            self.fail(id, &SessionStatus::Pending, &failure, now).await;
            return Err(failure);
        }
        self.sessions
            .transition(id, &SessionStatus::Pending, &SessionStatus::Exchanging, now)
            .await
            .map_err(|e| match e {
                JobStoreError::Conflict => LoginError::StateUsed,
                e => LoginError::Sessions(e),
            })?;
        let code = params.code.unwrap_or_default();
        match self.link(&code).await {
            Ok((user, name)) => {
                let linked = SessionStatus::Linked {
                    user,
                    name: name.clone(),
                };
                self.sessions
                    .transition(id, &SessionStatus::Exchanging, &linked, self.clock.now())
                    .await
                    .map_err(LoginError::Sessions)?;
                info!(session = %id, %user, "smashrun account linked");
                Ok(name)
            }
            Err(e) => {
                self.fail(id, &SessionStatus::Exchanging, &e, self.clock.now())
                    .await;
                Err(e)
            }
        }
    }

    async fn link(&self, code: &str) -> Result<(UserId, String), LoginError> {
        let grant = self
            .smashrun
            .exchange_code(code)
            .await
            .map_err(|e| match e {
                SmashrunError::InvalidGrant(why) => LoginError::Exchange(why),
                e if e.is_transient() => LoginError::Smashrun(e),
                e => LoginError::Exchange(e.to_string()),
            })?;
        let tokens = TokenSet::from_grant(grant, None, self.clock.now())
            .ok_or_else(|| LoginError::Exchange("SmashRun issued no refresh token".into()))?;
        let account = self
            .smashrun
            .user_info(&tokens.access_token)
            .await
            .map_err(LoginError::Smashrun)?;
        let name = account
            .display_name
            .clone()
            .or_else(|| account.user_name.clone())
            .unwrap_or_else(|| format!("SmashRun runner {}", account.id));
        let user = self
            .sources
            .link_smashrun(&account, &tokens)
            .await
            .map_err(LoginError::Store)?;
        Ok((user, name))
    }

    async fn fail(
        &self,
        id: SessionId,
        from: &SessionStatus,
        why: &LoginError,
        now: OffsetDateTime,
    ) {
        let failed = SessionStatus::Failed {
            reason: why.to_string(),
        };
        if let Err(e) = self.sessions.transition(id, from, &failed, now).await {
            info!(session = %id, error = %e, "a failed login could not be recorded");
        }
    }

    /// The CLI's poll. The key is minted only once the session is spent, so a key is handed
    /// out at most once, and never stored but as its hash.
    pub async fn pickup(&self, id: SessionId, secret: &SecretString) -> Result<Pickup, LoginError> {
        let now = self.clock.now();
        let session = self
            .sessions
            .get(id, now)
            .await
            .map_err(LoginError::Sessions)?
            .ok_or(LoginError::UnknownSession)?;
        if !session.secret_hash.matches(&SecretHash::of(secret)) {
            return Err(LoginError::UnknownSession);
        }
        let (user, name) = match &session.status {
            SessionStatus::Pending | SessionStatus::Exchanging => return Ok(Pickup::Pending),
            SessionStatus::Failed { reason } => return Err(LoginError::Failed(reason.clone())),
            SessionStatus::Spent => return Err(LoginError::Spent),
            SessionStatus::Linked { user, name } => (*user, name.clone()),
        };
        self.sessions
            .transition(id, &session.status, &SessionStatus::Spent, now)
            .await
            .map_err(|e| match e {
                JobStoreError::Conflict => LoginError::Spent,
                e => LoginError::Sessions(e),
            })?;
        let key = ApiKey::generate().map_err(|_| LoginError::Random)?;
        self.keys
            .insert_key(user, &key.hash(), &key.prefix(), "stk auth login")
            .await
            .map_err(LoginError::Store)?;
        info!(session = %id, %user, key = %key.prefix(), "api key issued");
        Ok(Pickup::Issued { key, user, name })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_hashes_and_states_parse_strictly() {
        let id = SessionId::random();
        assert_eq!(SessionId::parse(&id.to_string()), Some(id));
        assert!(SessionId::parse(&id.to_string().to_uppercase()).is_none());
        assert!(SecretHash::parse(&"a".repeat(64)).is_some());
        assert!(SecretHash::parse(&"A".repeat(64)).is_none());
        assert!(SecretHash::parse("abc").is_none());
        let state = OAuthState::random(id).unwrap();
        assert_eq!(OAuthState::session_of(state.as_str()), Some(id));
        assert!(state.matches(state.as_str()));
        assert!(!state.matches(&format!("{id}.{}", "x".repeat(43))));
        assert!(OAuthState::session_of(&format!("{id}.short")).is_none());
        assert!(OAuthState::session_of("nonsense").is_none());
        assert!(!format!("{state:?}").contains(state.as_str()));
    }

    #[test]
    fn a_secret_matches_only_its_own_hash() {
        let secret = SecretString::from("s3cret".to_owned());
        let hash = SecretHash::of(&secret);
        assert!(hash.matches(&SecretHash::of(&secret)));
        assert!(!hash.matches(&SecretHash::of(&SecretString::from("other".to_owned()))));
    }
}
