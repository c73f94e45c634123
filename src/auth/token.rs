//! JSON Web Tokens (HS256) for every caller. The algorithm is pinned: a token that names
//! another algorithm, including `none`, fails verification.

use std::path::Path;

use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::Role;
use crate::error::{Error, Result};

/// How long a token lives, by role. Specialists log in once per shift; visitors keep a
/// widget conversation across days; bots are configured once and revoked explicitly.
fn lifetime_secs(role: Role) -> i64 {
    match role {
        Role::Specialist | Role::Admin => 12 * 3600,
        Role::Visitor => 30 * 24 * 3600,
        Role::Bot => 365 * 24 * 3600,
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    pub role: Role,
    pub iat: i64,
    pub exp: i64,
}

/// The keys and validation rules, built once from the secret.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl TokenKeys {
    pub fn new(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub", "iat"]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    pub fn issue(&self, sub: Uuid, role: Role) -> Result<String> {
        let now = Utc::now().timestamp();
        self.encode(&Claims {
            sub,
            role,
            iat: now,
            exp: now + lifetime_secs(role),
        })
    }

    pub fn encode(&self, claims: &Claims) -> Result<String> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|e| Error::internal(format!("signing a token: {e}")))
    }

    pub fn verify(&self, token: &str) -> Result<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| {
                log::debug!("token refused: {e}");
                Error::unauthorized("invalid or expired token")
            })
    }
}

/// The configured secret, or the one generated on first start and kept in the data
/// directory so that tokens survive restarts in development.
pub fn load_or_create_secret(
    configured: Option<&str>,
    data_dir: &Path,
) -> std::io::Result<Vec<u8>> {
    if let Some(secret) = configured {
        return Ok(secret.as_bytes().to_vec());
    }
    let path = data_dir.join("jwt_secret");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim();
        if !existing.is_empty() {
            return Ok(existing.as_bytes().to_vec());
        }
    }
    std::fs::create_dir_all(data_dir)?;
    let secret = crate::random::random_hex(32)?;
    write_private(&path, &secret)?;
    log::info!("generated a JWT secret in {}", path.display());
    Ok(secret.into_bytes())
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_verifies_with_its_own_secret_only() {
        let keys = TokenKeys::new(b"one secret");
        let token = keys.issue(Uuid::new_v4(), Role::Bot).unwrap();
        assert_eq!(keys.verify(&token).unwrap().role, Role::Bot);
        assert!(TokenKeys::new(b"another secret").verify(&token).is_err());
    }

    #[test]
    fn expired_tokens_are_refused() {
        let keys = TokenKeys::new(b"secret");
        let now = Utc::now().timestamp();
        let expired = keys
            .encode(&Claims {
                sub: Uuid::new_v4(),
                role: Role::Visitor,
                iat: now - 100,
                exp: now - 60,
            })
            .unwrap();
        assert!(keys.verify(&expired).is_err());
    }
}
