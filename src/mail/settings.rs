//! The two mail settings, parsed when the server starts so a mistake in either stops it
//! with a clear message rather than failing every mail later.

use std::fmt;
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, Tokio1Executor};

/// Where mail leaves: `smtp://host:25`, `smtp://host:587?tls=required`,
/// `smtps://user:pass@host:465`, as lettre reads them.
#[derive(Clone)]
pub struct SmtpUrl(String);

impl SmtpUrl {
    pub fn parse(raw: &str) -> Result<SmtpUrl, String> {
        AsyncSmtpTransport::<Tokio1Executor>::from_url(raw).map_err(|e| {
            format!(
                "not an SMTP URL (smtp://host:25, smtp://host:587?tls=required, \
                 smtps://user:pass@host:465): {e}"
            )
        })?;
        Ok(SmtpUrl(raw.to_owned()))
    }

    /// A transport whose every SMTP command gives up after `timeout`.
    pub fn transport(&self, timeout: Duration) -> AsyncSmtpTransport<Tokio1Executor> {
        AsyncSmtpTransport::<Tokio1Executor>::from_url(&self.0)
            .expect("the URL was checked when the settings were read")
            .timeout(Some(timeout))
            .build()
    }
}

/// Shows where mail goes without the user and password the URL may carry.
impl fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = match self.0.split_once("://") {
            Some((scheme, rest)) => {
                let (authority, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
                let host = authority
                    .rsplit_once('@')
                    .map_or(authority, |(_, host)| host);
                format!("{scheme}://{host}{tail}")
            }
            None => String::new(),
        };
        f.debug_tuple("SmtpUrl").field(&shown).finish()
    }
}

/// The sender of every mail: `Name <address>` or a bare address.
pub fn mail_from(raw: &str) -> Result<Mailbox, String> {
    raw.parse().map_err(|e| {
        format!("not a sender (`Switchboard <no-reply@example.com>` or an address): {e}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_forms_of_the_documentation_are_accepted() {
        for url in [
            "smtp://127.0.0.1:25",
            "smtp://mail.example.com:2525",
            "smtp://mail.example.com:587?tls=required",
            "smtps://user:secret@mail.example.com:465",
        ] {
            assert!(SmtpUrl::parse(url).is_ok(), "{url} refused");
        }
        for url in ["http://mail.example.com", "mail.example.com:25", ""] {
            assert!(SmtpUrl::parse(url).is_err(), "{url} accepted");
        }
    }

    #[test]
    fn the_password_is_not_shown() {
        let url = SmtpUrl::parse("smtps://user:secret@mail.example.com:465").unwrap();
        let shown = format!("{url:?}");
        assert_eq!(shown, "SmtpUrl(\"smtps://mail.example.com:465\")");
    }

    #[test]
    fn senders_are_parsed() {
        let from = mail_from("Switchboard <no-reply@localhost>").unwrap();
        assert_eq!(from.name.as_deref(), Some("Switchboard"));
        assert_eq!(from.email.to_string(), "no-reply@localhost");
        assert!(mail_from("help@example.com").is_ok());
        assert!(mail_from("Switchboard").is_err());
    }
}
