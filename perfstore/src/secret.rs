//! API keys and passwords: generation, hashing, constant-time checks.
//!
//! A key is `pfa_` + 8 hex digits of visible prefix + `_` + 64 hex digits (256 random
//! bits). The store keeps the prefix in clear (to find the key and show it in lists)
//! and the SHA-256 of the whole key: a key has 256 bits of entropy, so a fast hash is
//! safe, unlike for passwords, which get argon2id.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{Error, Result};

/// What every key starts with.
pub const KEY_SCHEME: &str = "pfa_";

const HEX: &[u8; 16] = b"0123456789abcdef";

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

fn random<const N: usize>() -> Result<[u8; N]> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b)
        .map_err(|e| Error::Invalid(format!("the system random source failed: {e}")))?;
    Ok(b)
}

/// A new key: (visible prefix, whole key).
pub(crate) fn generate_key() -> Result<(String, String)> {
    let prefix = format!("{KEY_SCHEME}{}", hex(&random::<4>()?));
    let secret = format!("{prefix}_{}", hex(&random::<32>()?));
    Ok((prefix, secret))
}

/// The prefix of a presented key, if it has the key's shape.
pub(crate) fn key_prefix(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(KEY_SCHEME)?;
    let (p, s) = rest.split_once('_')?;
    let ok = |t: &str, n: usize| t.len() == n && t.bytes().all(|b| HEX.contains(&b));
    if ok(p, 8) && ok(s, 64) {
        Some(&key[..KEY_SCHEME.len() + 8])
    } else {
        None
    }
}

/// The stored hash of a key.
pub(crate) fn key_hash(key: &str) -> Vec<u8> {
    Sha256::digest(key.as_bytes()).to_vec()
}

/// Compares a presented key with a stored hash in constant time.
pub(crate) fn key_matches(key: &str, stored_hash: &[u8]) -> bool {
    let h = key_hash(key);
    h.len() == stored_hash.len() && bool::from(h.ct_eq(stored_hash))
}

/// An argon2id hash (PHC string) of a password.
pub(crate) fn hash_password(password: &str) -> Result<String> {
    if password.is_empty() {
        return Err(Error::Invalid("empty password".into()));
    }
    let salt =
        SaltString::encode_b64(&random::<16>()?).map_err(|e| Error::PasswordHash(e.to_string()))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::PasswordHash(e.to_string()))
}

/// Checks a password against a stored PHC string (argon2's verify compares in constant time).
pub(crate) fn verify_password(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(h) => argon2::Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok(),
        Err(_) => false,
    }
}

/// A password hash to spend the same time on when the user does not exist, so that a
/// login does not tell which e-mail addresses exist by its speed.
pub(crate) fn dummy_verify(password: &str) {
    static DUMMY: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    if let Some(h) = DUMMY.get_or_init(|| hash_password("not a password").ok()) {
        let _ = verify_password(password, h);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_shape_prefix_and_hash() {
        let (prefix, key) = generate_key().unwrap();
        assert_eq!(prefix.len(), 12);
        assert_eq!(key.len(), 12 + 1 + 64);
        assert!(key.starts_with(&prefix));
        assert_eq!(key_prefix(&key), Some(prefix.as_str()));
        let h = key_hash(&key);
        assert!(key_matches(&key, &h));
        let mut other = key.clone();
        other.pop();
        other.push(if key.ends_with('0') { '1' } else { '0' });
        assert!(!key_matches(&other, &h));
        assert_eq!(key_prefix("pfa_zzzzzzzz_00"), None);
        assert_eq!(key_prefix("hello"), None);
        let (_, k2) = generate_key().unwrap();
        assert_ne!(key, k2);
    }

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(!h.contains("correct horse"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        assert!(!verify_password("correct horse", "garbage"));
        assert!(hash_password("").is_err());
    }
}
