//! API keys: what the CLI sends as `Authorization: Bearer stk_...`.
//!
//! A key is 256 random bits, shown once. The server keeps only its SHA-256: with that much
//! entropy a fast hash is enough (nothing to brute-force), and lookups stay one indexed query.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

const PREFIX: &str = "stk_";
const KEY_BYTES: usize = 32;
/// `stk_` + 43 base64url characters for 32 bytes.
const KEY_LEN: usize = PREFIX.len() + 43;

/// A presented or freshly minted API key. Its `Debug` never shows the secret.
pub struct ApiKey(SecretString);

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([redacted])")
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ApiKeyError {
    #[error("missing api key: send `Authorization: Bearer stk_...`")]
    Missing,
    #[error("malformed api key: expected `stk_` followed by 43 characters")]
    Malformed,
    #[error("the system random number generator failed")]
    Random,
}

/// The stored form of a key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ApiKeyHash(String);

impl ApiKeyHash {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl ApiKey {
    pub fn generate() -> Result<Self, ApiKeyError> {
        let mut bytes = [0u8; KEY_BYTES];
        getrandom::fill(&mut bytes).map_err(|_| ApiKeyError::Random)?;
        Ok(Self(SecretString::from(format!(
            "{PREFIX}{}",
            URL_SAFE_NO_PAD.encode(bytes)
        ))))
    }

    /// Reads an `Authorization` header value.
    pub fn from_authorization(header: Option<&str>) -> Result<Self, ApiKeyError> {
        let header = header.ok_or(ApiKeyError::Missing)?.trim();
        let (scheme, token) = header.split_once(' ').ok_or(ApiKeyError::Malformed)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(ApiKeyError::Malformed);
        }
        Self::parse(token.trim())
    }

    pub fn parse(candidate: &str) -> Result<Self, ApiKeyError> {
        let body = candidate
            .strip_prefix(PREFIX)
            .ok_or(ApiKeyError::Malformed)?;
        let well_formed = candidate.len() == KEY_LEN
            && body
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if well_formed {
            Ok(Self(SecretString::from(candidate.to_owned())))
        } else {
            Err(ApiKeyError::Malformed)
        }
    }

    pub fn hash(&self) -> ApiKeyHash {
        ApiKeyHash(hex::encode(Sha256::digest(
            self.0.expose_secret().as_bytes(),
        )))
    }

    /// The first characters, safe to show, to tell keys apart.
    pub fn prefix(&self) -> String {
        self.0
            .expose_secret()
            .chars()
            .take(PREFIX.len() + 6)
            .collect()
    }

    /// For the one place the key is handed to its owner.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_and_hash_stably() {
        let key = ApiKey::generate().unwrap();
        let again = ApiKey::parse(key.expose()).unwrap();
        assert_eq!(key.hash(), again.hash());
        assert_eq!(key.hash().as_str().len(), 64);
        assert_ne!(key.hash(), ApiKey::generate().unwrap().hash());
    }

    #[test]
    fn debug_never_shows_the_key() {
        let key = ApiKey::generate().unwrap();
        assert!(!format!("{key:?}").contains(&key.expose()[4..]));
    }

    #[test]
    fn authorization_header_forms() {
        let key = ApiKey::generate().unwrap();
        let header = format!("Bearer {}", key.expose());
        assert!(ApiKey::from_authorization(Some(&header)).is_ok());
        assert_eq!(
            ApiKey::from_authorization(None).unwrap_err(),
            ApiKeyError::Missing
        );
        for bad in [
            "Basic abc",
            "Bearer",
            "Bearer stk_short",
            "Bearer sk_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "Bearer stk_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa$",
        ] {
            assert_eq!(
                ApiKey::from_authorization(Some(bad)).unwrap_err(),
                ApiKeyError::Malformed,
                "{bad}"
            );
        }
    }
}
