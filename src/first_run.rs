//! The first run (SPEC section 11): a server that starts on a database without an admin
//! logs a one-time link to `/admin/setup`, whose page creates the first admin. The link
//! works until an admin exists, however that admin came (the page, `create-admin`, or
//! another node's link), and only once.
//!
//! Only the token's SHA-256 is stored: the log line is the one place the link is seen.

use std::net::{IpAddr, Ipv4Addr};

use sha2::{Digest, Sha256};

use crate::db::{self, Db};
use crate::error::{Error, Result};
use crate::random::random_hex;

const TOKEN_BYTES: usize = 32;

/// The secret of a setup link: 64 lower-case hex characters.
pub struct SetupToken(String);

impl SetupToken {
    fn generate() -> Result<SetupToken> {
        Ok(SetupToken(
            random_hex(TOKEN_BYTES).map_err(Error::internal)?,
        ))
    }

    /// A token as a link carries it; anything else is no link at all.
    pub fn parse(raw: &str) -> Result<SetupToken> {
        let well_formed = raw.len() == 2 * TOKEN_BYTES
            && raw
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if well_formed {
            Ok(SetupToken(raw.to_owned()))
        } else {
            Err(Error::not_found("no such setup link"))
        }
    }

    pub fn sha256(&self) -> Vec<u8> {
        Sha256::digest(self.0.as_bytes()).to_vec()
    }
}

/// If no admin exists yet, makes a setup link and logs it. `ip` and `port` are where the
/// server listens; a wildcard address is shown as the loopback one.
pub async fn announce(db: &Db, ip: IpAddr, port: u16) -> Result<()> {
    let token = SetupToken::generate()?;
    let hash = token.sha256();
    let created = db
        .run(move |conn| {
            if db::setup_links::admin_exists(conn)? {
                return Ok(false);
            }
            db::setup_links::insert(conn, &hash)?;
            Ok(true)
        })
        .await?;
    if created {
        log::warn!(
            "no admin yet: open {} to create the first one (the link works once, until an \
             admin exists)",
            link(ip, port, &token)
        );
    }
    Ok(())
}

fn link(ip: IpAddr, port: u16, token: &SetupToken) -> String {
    let ip = if ip.is_unspecified() {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        ip
    };
    let host = match ip {
        IpAddr::V4(v4) => format!("{v4}:{port}"),
        IpAddr::V6(v6) => format!("[{v6}]:{port}"),
    };
    format!("http://{host}/admin/setup?token={}", token.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_64_lower_case_hex_characters() {
        let token = SetupToken::generate().unwrap();
        assert!(SetupToken::parse(&token.0).is_ok());
        assert!(SetupToken::parse(&token.0.to_uppercase()).is_err());
        assert!(SetupToken::parse(&token.0[1..]).is_err());
        assert!(SetupToken::parse(&format!("{}0", token.0)).is_err());
        assert!(SetupToken::parse(&"g".repeat(64)).is_err());
        assert!(SetupToken::parse("").is_err());
    }

    #[test]
    fn the_link_names_the_address_the_server_listens_on() {
        let token = SetupToken("ab".repeat(32));
        let suffix = format!("/admin/setup?token={}", "ab".repeat(32));
        let v4 = link("192.0.2.7".parse().unwrap(), 8080, &token);
        assert_eq!(v4, format!("http://192.0.2.7:8080{suffix}"));
        let v6 = link("2001:db8::1".parse().unwrap(), 8080, &token);
        assert_eq!(v6, format!("http://[2001:db8::1]:8080{suffix}"));
        let any = link("0.0.0.0".parse().unwrap(), 80, &token);
        assert_eq!(any, format!("http://127.0.0.1:80{suffix}"));
        let any6 = link("::".parse().unwrap(), 80, &token);
        assert_eq!(any6, format!("http://127.0.0.1:80{suffix}"));
    }
}
