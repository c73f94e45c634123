//! Argon2id password hashes for specialists, in the PHC string format so the parameters
//! travel with the hash and can be raised later without a migration.
//!
//! Hashing is slow on purpose, so callers run these functions on a blocking thread and
//! never while holding a database connection (see `auth::throttle`).

use std::sync::OnceLock;

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, SaltString};
use argon2::{Argon2, PasswordVerifier};

use crate::error::{Error, Result};

pub fn hash_password(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| Error::internal(format!("hashing a password: {e}")))
}

/// Whether `password` matches `hash`. A malformed stored hash counts as a mismatch.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Whether `password` matches `stored`. With nothing stored (an unknown e-mail) it
/// verifies against a hash of a random password instead, so the answer, false, takes as
/// long as a real verification and the timing does not tell who has an account.
pub fn verify_or_pretend(password: &str, stored: Option<&str>) -> bool {
    match stored {
        Some(hash) => verify_password(password, hash),
        None => {
            let _ = verify_password(password, decoy_hash());
            false
        }
    }
}

/// A hash with the default parameters of a password nobody knows.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        let unknowable = SaltString::generate(&mut OsRng);
        hash_password(unknowable.as_str()).expect("hashing a random password with defaults")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_accepts_its_password_only() {
        let hash = hash_password("correct horse").unwrap();
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("battery staple", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn pretending_never_matches_and_a_stored_hash_still_does() {
        let hash = hash_password("correct horse").unwrap();
        assert!(verify_or_pretend("correct horse", Some(&hash)));
        assert!(!verify_or_pretend("correct horse", None));
        assert!(!verify_or_pretend("", None));
    }
}
