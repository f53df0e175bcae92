//! SmashRun tokens at rest: AES-256-GCM under a key from Secrets Manager, with the owning user
//! and source as associated data so a ciphertext moved to another row fails to decrypt.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretString};
use stk_core::UserId;
use stk_core::tokens::TokenSet;

const VERSION: &str = "v1";
const NONCE_BYTES: usize = 12;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("the token key must be base64 of exactly 32 bytes")]
    BadKey,
    #[error("the system random number generator failed")]
    Random,
    #[error("the ciphertext is malformed, or was made with another key or for another user")]
    Decrypt,
}

pub struct TokenCipher(Aes256Gcm);

impl std::fmt::Debug for TokenCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenCipher([redacted])")
    }
}

fn associated_data(user: UserId, source: &str) -> Vec<u8> {
    format!("myrunstreak:tokens:{VERSION}:{user}:{source}").into_bytes()
}

impl TokenCipher {
    pub fn from_base64(key: &SecretString) -> Result<Self, CryptoError> {
        let bytes = STANDARD
            .decode(key.expose_secret().trim())
            .map_err(|_| CryptoError::BadKey)?;
        if bytes.len() != 32 {
            return Err(CryptoError::BadKey);
        }
        Aes256Gcm::new_from_slice(&bytes)
            .map(Self)
            .map_err(|_| CryptoError::BadKey)
    }

    pub fn encrypt(
        &self,
        user: UserId,
        source: &str,
        tokens: &TokenSet,
    ) -> Result<String, CryptoError> {
        let plaintext = serde_json::to_vec(tokens).map_err(|_| CryptoError::Decrypt)?;
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce).map_err(|_| CryptoError::Random)?;
        let aad = associated_data(user, source);
        let ciphertext = self
            .0
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| CryptoError::Decrypt)?;
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ciphertext);
        Ok(format!("{VERSION}.{}", STANDARD.encode(blob)))
    }

    pub fn decrypt(
        &self,
        user: UserId,
        source: &str,
        stored: &str,
    ) -> Result<TokenSet, CryptoError> {
        let encoded = stored
            .strip_prefix(VERSION)
            .and_then(|s| s.strip_prefix('.'))
            .ok_or(CryptoError::Decrypt)?;
        let blob = STANDARD.decode(encoded).map_err(|_| CryptoError::Decrypt)?;
        if blob.len() <= NONCE_BYTES {
            return Err(CryptoError::Decrypt);
        }
        let (nonce, ciphertext) = blob.split_at(NONCE_BYTES);
        let aad = associated_data(user, source);
        let plaintext = self
            .0
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| CryptoError::Decrypt)?;
        serde_json::from_slice(&plaintext).map_err(|_| CryptoError::Decrypt)
    }
}

/// A fresh random key in the secret's format, for provisioning.
pub fn generate_key_base64() -> Result<String, CryptoError> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|_| CryptoError::Random)?;
    Ok(STANDARD.encode(key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn tokens() -> TokenSet {
        TokenSet {
            access_token: "access-secret".into(),
            refresh_token: "refresh-secret".into(),
            issued_at: datetime!(2026-01-01 00:00 UTC),
            expires_at: datetime!(2026-03-26 00:00 UTC),
        }
    }

    fn cipher() -> TokenCipher {
        TokenCipher::from_base64(&generate_key_base64().unwrap().into()).unwrap()
    }

    #[test]
    fn round_trips_for_the_same_user_only() {
        let cipher = cipher();
        let alice = UserId::new(uuid::Uuid::from_u128(1));
        let bob = UserId::new(uuid::Uuid::from_u128(2));
        let stored = cipher.encrypt(alice, "smashrun", &tokens()).unwrap();
        assert!(!stored.contains("access-secret"));
        let back = cipher.decrypt(alice, "smashrun", &stored).unwrap();
        assert_eq!(back.refresh_token.expose_secret(), "refresh-secret");
        assert_eq!(back.expires_at, tokens().expires_at);
        assert_eq!(
            cipher.decrypt(bob, "smashrun", &stored).unwrap_err(),
            CryptoError::Decrypt
        );
    }

    #[test]
    fn another_key_or_tampering_fails() {
        let user = UserId::new(uuid::Uuid::from_u128(1));
        let stored = cipher().encrypt(user, "smashrun", &tokens()).unwrap();
        assert!(cipher().decrypt(user, "smashrun", &stored).is_err());
        let mut tampered = stored.clone();
        tampered.replace_range(10..11, if &stored[10..11] == "A" { "B" } else { "A" });
        assert!(cipher().decrypt(user, "smashrun", &tampered).is_err());
        assert!(cipher().decrypt(user, "smashrun", "v1.").is_err());
        assert!(cipher().decrypt(user, "smashrun", "garbage").is_err());
    }

    #[test]
    fn rejects_short_keys() {
        assert_eq!(
            TokenCipher::from_base64(&"c2hvcnQ=".into()).unwrap_err(),
            CryptoError::BadKey
        );
    }
}
