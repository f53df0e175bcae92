//! A user's SmashRun token pair and when to refresh it.

use std::fmt;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The access and refresh tokens SmashRun issued, with their lifetime.
#[derive(Clone, Serialize, Deserialize)]
pub struct TokenSet {
    #[serde(serialize_with = "expose")]
    pub access_token: SecretString,
    #[serde(serialize_with = "expose")]
    pub refresh_token: SecretString,
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

// Serialised only into the encrypted blob; never logged.
fn expose<S: serde::Serializer>(secret: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(secret.expose_secret())
}

impl fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSet")
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// What SmashRun's token endpoint answers.
#[derive(Clone)]
pub struct TokenGrant {
    pub access_token: SecretString,
    /// SmashRun may or may not send a new refresh token; when it does not, the old one stays.
    pub refresh_token: Option<SecretString>,
    pub expires_in: Duration,
}

impl fmt::Debug for TokenGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenGrant")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

impl TokenSet {
    /// Builds the stored pair from a grant, keeping the previous refresh token when none came.
    pub fn from_grant(
        grant: TokenGrant,
        previous_refresh: Option<&SecretString>,
        now: OffsetDateTime,
    ) -> Option<Self> {
        let refresh_token = grant.refresh_token.or_else(|| previous_refresh.cloned())?;
        Some(Self {
            access_token: grant.access_token,
            refresh_token,
            issued_at: now,
            expires_at: now + grant.expires_in,
        })
    }

    /// Refresh once past half the access token's life: the Python system refreshed a day before
    /// expiry and lost users whose refresh tokens had quietly died by then.
    pub fn needs_refresh(&self, now: OffsetDateTime) -> bool {
        let half_life = (self.expires_at - self.issued_at) / 2;
        now >= self.issued_at + half_life
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn set(issued: OffsetDateTime, life_days: i64) -> TokenSet {
        TokenSet {
            access_token: "a".into(),
            refresh_token: "r".into(),
            issued_at: issued,
            expires_at: issued + time::Duration::days(life_days),
        }
    }

    #[test]
    fn refreshes_after_half_life_not_before() {
        let t0 = datetime!(2026-01-01 00:00 UTC);
        let tokens = set(t0, 84);
        assert!(!tokens.needs_refresh(t0 + time::Duration::days(41)));
        assert!(tokens.needs_refresh(t0 + time::Duration::days(42)));
        assert!(tokens.needs_refresh(t0 + time::Duration::days(100)));
    }

    #[test]
    fn keeps_previous_refresh_token_when_none_is_returned() {
        let grant = TokenGrant {
            access_token: "new".into(),
            refresh_token: None,
            expires_in: Duration::from_secs(60),
        };
        let previous = SecretString::from("old-refresh");
        let now = datetime!(2026-01-01 00:00 UTC);
        let tokens = TokenSet::from_grant(grant.clone(), Some(&previous), now).unwrap();
        assert_eq!(tokens.refresh_token.expose_secret(), "old-refresh");
        assert!(TokenSet::from_grant(grant, None, now).is_none());
    }

    #[test]
    fn debug_hides_tokens() {
        let tokens = set(datetime!(2026-01-01 00:00 UTC), 1);
        let shown = format!("{tokens:?}");
        assert!(!shown.contains("\"a\"") && !shown.contains("refresh_token"));
    }
}
