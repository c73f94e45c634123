//! A message left for when someone can answer (SPEC section 14), as the visitor gives it
//! in `message.leave`: how to reach them and what they wrote, checked at the boundary.

use crate::domain::inputs::{self, Email};
use crate::domain::{Body, SessionId};
use crate::error::{Error, Result};
use crate::protocol::client::LeaveMessage;

/// Longest phone number kept, in characters.
const PHONE_CHARS: usize = 32;

/// How a visitor who left a message can be reached.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Contact {
    #[serde(with = "email_text")]
    pub email: Email,
    pub name: Option<String>,
    pub phone: Option<String>,
    /// They would rather be called back (on `phone`).
    pub callback: bool,
}

/// `message.leave` with its inputs checked.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct LeftMessage {
    pub contact: Contact,
    pub body: Body,
}

impl LeftMessage {
    /// The boundary: a bad e-mail, name, phone or body is `bad_request` here. Returns the
    /// visitor's waiting session the message replaces, when named.
    pub fn parse(raw: LeaveMessage) -> Result<(Option<SessionId>, LeftMessage)> {
        let email = Email::parse(&raw.email)?;
        let name = inputs::optional_text("name", raw.name.as_deref(), 100)?;
        let phone = inputs::optional_text("phone", raw.phone.as_deref(), PHONE_CHARS)?;
        let dialable = |c: char| c.is_ascii_digit() || " +-().".contains(c);
        if phone.as_deref().is_some_and(|phone| {
            !phone.chars().all(dialable) || !phone.contains(|c: char| c.is_ascii_digit())
        }) {
            return Err(Error::bad_request(
                "phone: digits, spaces and + - ( ) . only",
            ));
        }
        let callback = raw.callback.unwrap_or(false);
        if callback && phone.is_none() {
            return Err(Error::bad_request("callback: needs a phone number"));
        }
        let body = Body::parse(Some(&raw.body))?;
        let contact = Contact {
            email,
            name,
            phone,
            callback,
        };
        Ok((raw.session_id, LeftMessage { contact, body }))
    }
}

/// An [`Email`] crosses NATS (inside a session command) as its text.
mod email_text {
    use super::Email;

    pub fn serialize<S: serde::Serializer>(email: &Email, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(email.as_str())
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Email, D::Error> {
        let text = <String as serde::Deserialize>::deserialize(d)?;
        Email::parse(&text).map_err(|e| serde::de::Error::custom(e.message))
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::error::ErrorCode;

    /// `message.leave` as Ann sends it, with this address and phone.
    pub(crate) fn leaving(email: &str, phone: Option<&str>, callback: bool) -> LeaveMessage {
        LeaveMessage {
            session_id: None,
            email: email.into(),
            name: Some("Ann".into()),
            phone: phone.map(Into::into),
            callback: Some(callback),
            body: "Please call me about my order".into(),
        }
    }

    #[test]
    fn a_left_message_needs_an_address_and_a_phone_to_be_called_back() {
        for (raw, field) in [
            (leaving("not-an-address", None, false), "email"),
            (
                leaving("ann@example.com", Some("call me maybe"), false),
                "phone",
            ),
            (leaving("ann@example.com", Some("+-()"), false), "phone"),
            (leaving("ann@example.com", None, true), "callback"),
        ] {
            let error = LeftMessage::parse(raw).unwrap_err();
            assert_eq!(error.code, ErrorCode::BadRequest);
            assert!(error.message.starts_with(field), "{}", error.message);
        }
        let mut empty = leaving("ann@example.com", None, false);
        empty.body = "   ".into();
        assert_eq!(
            LeftMessage::parse(empty).unwrap_err().code,
            ErrorCode::BadRequest
        );
        let (_, ok) =
            LeftMessage::parse(leaving(" Ann@Example.com ", Some("+1 (555) 0100"), true)).unwrap();
        assert_eq!(ok.contact.email.as_str(), "ann@example.com");
        assert!(ok.contact.callback);
    }
}
