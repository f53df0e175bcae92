//! OAuth 2.0 state: authorisation codes, access tokens and refresh tokens.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use time::{Duration, OffsetDateTime};

use crate::config::RefreshPolicy;
use crate::rng::SplitMix64;

/// How long an authorisation code can be exchanged.
pub(crate) const CODE_LIFETIME: Duration = Duration::minutes(10);
/// How long a refresh token lives under [`RefreshPolicy::Expiring`].
pub(crate) const REFRESH_LIFETIME: Duration = Duration::days(30);

#[derive(Debug)]
struct Code {
    client_id: String,
    redirect_uri: String,
    scope: String,
    expires_at: OffsetDateTime,
}

#[derive(Debug)]
struct AccessToken {
    expires_at: OffsetDateTime,
}

#[derive(Debug)]
struct RefreshToken {
    client_id: String,
    scope: String,
    issued_at: OffsetDateTime,
    force_expired: bool,
}

/// Why a grant was refused (all are `invalid_grant` on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GrantError {
    UnknownCode,
    ExpiredCode,
    ClientMismatch,
    RedirectMismatch,
    UnknownRefreshToken,
    ExpiredRefreshToken,
}

impl GrantError {
    pub(crate) fn description(self) -> &'static str {
        match self {
            Self::UnknownCode => "The authorization code is invalid or has already been used",
            Self::ExpiredCode => "The authorization code has expired",
            Self::ClientMismatch => "The grant was issued to another client",
            Self::RedirectMismatch => {
                "The redirect_uri does not match the one used in the authorization request"
            }
            Self::UnknownRefreshToken => "The refresh token is invalid or has been revoked",
            Self::ExpiredRefreshToken => "The refresh token has expired",
        }
    }
}

/// A token response, before it is written as JSON.
#[derive(Debug, Clone)]
pub(crate) struct Issued {
    pub(crate) access_token: String,
    pub(crate) expires_in: u64,
    pub(crate) refresh_token: String,
}

#[derive(Debug)]
pub(crate) struct AuthState {
    codes: HashMap<String, Code>,
    access: HashMap<String, AccessToken>,
    refresh: HashMap<String, RefreshToken>,
    rng: SplitMix64,
}

static INSTANCES: AtomicU64 = AtomicU64::new(0);

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

impl AuthState {
    /// Tokens differ between sandboxes and runs (they mix in the clock and an instance counter), so a token from one
    /// sandbox never works on another.
    pub(crate) fn new() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let instance = INSTANCES.fetch_add(1, Ordering::Relaxed);
        Self {
            codes: HashMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            rng: SplitMix64::new(nanos ^ instance.rotate_left(32)),
        }
    }

    fn random_string(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| char::from(ALPHABET[self.rng.below(ALPHABET.len() as u64) as usize]))
            .collect()
    }

    pub(crate) fn issue_code(
        &mut self,
        client_id: &str,
        redirect_uri: &str,
        scope: &str,
        now: OffsetDateTime,
    ) -> String {
        let code = self.random_string(24);
        self.codes.insert(
            code.clone(),
            Code {
                client_id: client_id.into(),
                redirect_uri: redirect_uri.into(),
                scope: scope.into(),
                expires_at: now + CODE_LIFETIME,
            },
        );
        code
    }

    /// Exchanges a code (single use: a successful exchange removes it; an expired one is removed too).
    pub(crate) fn redeem_code(
        &mut self,
        code: &str,
        client_id: &str,
        redirect_uri: &str,
        now: OffsetDateTime,
    ) -> Result<String, GrantError> {
        let entry = self.codes.get(code).ok_or(GrantError::UnknownCode)?;
        if entry.expires_at <= now {
            self.codes.remove(code);
            return Err(GrantError::ExpiredCode);
        }
        if entry.client_id != client_id {
            return Err(GrantError::ClientMismatch);
        }
        if entry.redirect_uri != redirect_uri {
            return Err(GrantError::RedirectMismatch);
        }
        let scope = entry.scope.clone();
        self.codes.remove(code);
        Ok(scope)
    }

    fn issue_access(&mut self, expires_in: u64, now: OffsetDateTime) -> String {
        let token = self.random_string(32);
        let lifetime = Duration::seconds(i64::try_from(expires_in).unwrap_or(i64::MAX));
        self.access.insert(
            token.clone(),
            AccessToken {
                expires_at: now.checked_add(lifetime).unwrap_or(now),
            },
        );
        token
    }

    /// A new access token and a new refresh token (after a code exchange).
    pub(crate) fn issue_pair(
        &mut self,
        client_id: &str,
        scope: &str,
        expires_in: u64,
        now: OffsetDateTime,
    ) -> Issued {
        let access_token = self.issue_access(expires_in, now);
        let refresh_token = self.random_string(32);
        self.refresh.insert(
            refresh_token.clone(),
            RefreshToken {
                client_id: client_id.into(),
                scope: scope.into(),
                issued_at: now,
                force_expired: false,
            },
        );
        Issued {
            access_token,
            expires_in,
            refresh_token,
        }
    }

    /// A refresh grant under the given policy. Old access tokens stay valid until they expire.
    pub(crate) fn refresh(
        &mut self,
        refresh_token: &str,
        client_id: &str,
        policy: RefreshPolicy,
        expires_in: u64,
        now: OffsetDateTime,
    ) -> Result<Issued, GrantError> {
        let entry = self
            .refresh
            .get(refresh_token)
            .ok_or(GrantError::UnknownRefreshToken)?;
        if entry.client_id != client_id {
            return Err(GrantError::ClientMismatch);
        }
        if entry.force_expired
            || (policy == RefreshPolicy::Expiring && entry.issued_at + REFRESH_LIFETIME <= now)
        {
            return Err(GrantError::ExpiredRefreshToken);
        }
        match policy {
            RefreshPolicy::Reusable | RefreshPolicy::Expiring => {
                let access_token = self.issue_access(expires_in, now);
                Ok(Issued {
                    access_token,
                    expires_in,
                    refresh_token: refresh_token.to_owned(),
                })
            }
            RefreshPolicy::Rotating => {
                let old = self
                    .refresh
                    .remove(refresh_token)
                    .ok_or(GrantError::UnknownRefreshToken)?;
                Ok(self.issue_pair(&old.client_id, &old.scope, expires_in, now))
            }
        }
    }

    /// Seconds left on a valid access token.
    pub(crate) fn check_access(&self, token: &str, now: OffsetDateTime) -> Option<i64> {
        let entry = self.access.get(token)?;
        let left = (entry.expires_at - now).whole_seconds();
        (entry.expires_at > now).then_some(left.max(0))
    }

    /// Every access token issued so far is expired; returns how many there were.
    pub(crate) fn expire_access(&mut self, now: OffsetDateTime) -> usize {
        for token in self.access.values_mut() {
            token.expires_at = token.expires_at.min(now - Duration::SECOND);
        }
        self.access.len()
    }

    /// Every refresh token issued so far is expired (refreshing answers `invalid_grant`).
    pub(crate) fn expire_refresh(&mut self) -> usize {
        for token in self.refresh.values_mut() {
            token.force_expired = true;
        }
        self.refresh.len()
    }

    /// Forgets every token and code.
    pub(crate) fn revoke_all(&mut self) -> (usize, usize) {
        let counts = (self.access.len(), self.refresh.len());
        self.access.clear();
        self.refresh.clear();
        self.codes.clear();
        counts
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2025-01-01 12:00 UTC);

    #[test]
    fn code_is_single_use_bound_and_expiring() {
        let mut auth = AuthState::new();
        let code = auth.issue_code("c", "http://x/cb", "read_activity", NOW);
        assert_eq!(
            auth.redeem_code(&code, "other", "http://x/cb", NOW),
            Err(GrantError::ClientMismatch)
        );
        assert_eq!(
            auth.redeem_code(&code, "c", "http://y/cb", NOW),
            Err(GrantError::RedirectMismatch)
        );
        assert_eq!(
            auth.redeem_code(&code, "c", "http://x/cb", NOW).unwrap(),
            "read_activity"
        );
        assert_eq!(
            auth.redeem_code(&code, "c", "http://x/cb", NOW),
            Err(GrantError::UnknownCode)
        );
        let code = auth.issue_code("c", "http://x/cb", "", NOW);
        assert_eq!(
            auth.redeem_code(&code, "c", "http://x/cb", NOW + Duration::minutes(10)),
            Err(GrantError::ExpiredCode)
        );
    }

    #[test]
    fn refresh_policies() {
        let mut auth = AuthState::new();
        let first = auth.issue_pair("c", "s", 100, NOW);
        let again = auth
            .refresh(&first.refresh_token, "c", RefreshPolicy::Reusable, 100, NOW)
            .unwrap();
        assert_eq!(again.refresh_token, first.refresh_token);
        assert_ne!(again.access_token, first.access_token);
        assert!(
            auth.check_access(&first.access_token, NOW).is_some(),
            "old access token still valid"
        );
        assert_eq!(
            auth.check_access(&first.access_token, NOW + Duration::seconds(100)),
            None
        );

        let rotated = auth
            .refresh(&first.refresh_token, "c", RefreshPolicy::Rotating, 100, NOW)
            .unwrap();
        assert_ne!(rotated.refresh_token, first.refresh_token);
        assert_eq!(
            auth.refresh(&first.refresh_token, "c", RefreshPolicy::Rotating, 100, NOW)
                .unwrap_err(),
            GrantError::UnknownRefreshToken
        );

        let later = NOW + Duration::days(30);
        assert_eq!(
            auth.refresh(
                &rotated.refresh_token,
                "c",
                RefreshPolicy::Expiring,
                100,
                later
            )
            .unwrap_err(),
            GrantError::ExpiredRefreshToken
        );
        assert!(
            auth.refresh(
                &rotated.refresh_token,
                "c",
                RefreshPolicy::Expiring,
                100,
                later - Duration::SECOND
            )
            .is_ok()
        );
    }
}
