//! The message as it goes over SMTP: one plain-text part (`text/plain; charset=utf-8`,
//! quoted-printable), from the configured sender to the one stored address.
//!
//! This is the one place text from people meets headers. The recipient is a parsed
//! address, never text spliced into a header; display names and the subject lose every
//! character that could end a header line, and lettre encodes what is left as a quoted
//! or encoded word. The body is content only: whatever it holds (`Bcc:` lines, markup)
//! reaches the reader as the text it was.

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Mailbox, SinglePart};
use lettre::{Address, Message};
use uuid::Uuid;

/// Longest display name kept, in characters.
const MAX_NAME_CHARS: usize = 100;

/// A stored mail's fields, as the sender reads them from the outbox.
pub struct Letter<'a> {
    /// The outbox row's id: retries of one mail carry the same `Message-ID`, so a mail
    /// server that took it before a timeout lets clients see one mail.
    pub id: Uuid,
    pub to_address: &'a str,
    pub to_name: Option<&'a str>,
    pub subject: &'a str,
    pub body: &'a str,
}

/// Why a letter cannot become a message; sending it again would not help.
#[derive(Debug, PartialEq, Eq)]
pub struct Undeliverable(pub String);

/// The message for `letter`, sent by `from`.
pub fn build(from: &Mailbox, letter: &Letter) -> Result<Message, Undeliverable> {
    let to = Mailbox::new(display_name(letter.to_name), address(letter.to_address)?);
    let body = SinglePart::builder()
        .header(ContentType::TEXT_PLAIN)
        .header(ContentTransferEncoding::QuotedPrintable)
        .body(letter.body.to_owned());
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(one_line(letter.subject))
        .message_id(Some(format!("<{}@{}>", letter.id, from.email.domain())))
        .singlepart(body)
        .map_err(|e| Undeliverable(format!("not a valid message: {e}")))
}

/// The address as lettre sends to it: stricter than what `Email` accepts (no quoted
/// local parts, no spaces), so an address is checked here before a mail to it is written.
pub fn address(raw: &str) -> Result<Address, Undeliverable> {
    raw.parse()
        .map_err(|e| Undeliverable(format!("not a deliverable address: {e}")))
}

/// A name fit for a header or a greeting: control characters (CR, LF, tabs…) and line
/// separators removed, trimmed, at most 100 characters; nothing left means no name.
pub fn display_name(raw: Option<&str>) -> Option<String> {
    let name: String = one_line(raw?).chars().take(MAX_NAME_CHARS).collect();
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

/// `text` without anything that could end or fold a header line.
fn one_line(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() && !matches!(c, '\u{2028}' | '\u{2029}'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from() -> Mailbox {
        "Switchboard <no-reply@localhost>"
            .parse()
            .expect("a mailbox")
    }

    fn letter<'a>(to_name: Option<&'a str>, subject: &'a str, body: &'a str) -> Letter<'a> {
        Letter {
            id: Uuid::nil(),
            to_address: "vera@example.com",
            to_name,
            subject,
            body,
        }
    }

    /// The header section of the formatted message, one entry per header with folded
    /// lines joined.
    fn headers(message: &Message) -> Vec<String> {
        let text = String::from_utf8(message.formatted()).expect("ASCII on the wire");
        let (head, _) = text.split_once("\r\n\r\n").expect("a header section");
        let mut headers: Vec<String> = Vec::new();
        for line in head.split("\r\n") {
            match headers.last_mut() {
                Some(last) if line.starts_with([' ', '\t']) => last.push_str(line),
                _ => headers.push(line.to_owned()),
            }
        }
        headers
    }

    fn named<'a>(headers: &'a [String], name: &str) -> Vec<&'a String> {
        let prefix = format!("{}:", name.to_lowercase());
        headers
            .iter()
            .filter(|h| h.to_lowercase().starts_with(&prefix))
            .collect()
    }

    #[test]
    fn a_name_cannot_add_a_header_or_a_recipient() {
        let name = "Eve\r\nBcc: victim@example.com";
        let message = build(&from(), &letter(Some(name), "Hi", "Hello")).expect("builds");
        let headers = headers(&message);
        assert!(named(&headers, "Bcc").is_empty(), "{headers:?}");
        assert!(named(&headers, "Cc").is_empty(), "{headers:?}");
        let to = named(&headers, "To");
        assert_eq!(to.len(), 1, "{headers:?}");
        assert!(to[0].ends_with("<vera@example.com>"), "{}", to[0]);
        assert_eq!(message.envelope().to().len(), 1);
        assert_eq!(message.envelope().to()[0].to_string(), "vera@example.com");
    }

    #[test]
    fn a_name_with_address_syntax_stays_one_name() {
        let name = "Eve <evil@example.com>, Mallory";
        let message = build(&from(), &letter(Some(name), "Hi", "Hello")).expect("builds");
        assert_eq!(message.envelope().to().len(), 1);
        let headers = headers(&message);
        let to = named(&headers, "To");
        assert_eq!(to.len(), 1, "{headers:?}");
        // Quoted or encoded, the name holds no address and no list separator of its own.
        let mut quoted = false;
        let unquoted: String = to[0]
            .chars()
            .filter(|c| {
                quoted ^= *c == '"';
                !quoted && *c != '"'
            })
            .collect();
        assert!(!unquoted.contains(','), "{}", to[0]);
        assert!(!unquoted.contains("evil@"), "{}", to[0]);
        assert!(to[0].ends_with(" <vera@example.com>"), "{}", to[0]);
    }

    #[test]
    fn a_subject_stays_one_line() {
        let message = build(
            &from(),
            &letter(None, "Hi\r\nBcc: victim@example.com", "Hello"),
        )
        .expect("builds");
        let headers = headers(&message);
        assert!(named(&headers, "Bcc").is_empty(), "{headers:?}");
        assert_eq!(named(&headers, "Subject").len(), 1);
    }

    #[test]
    fn the_body_is_plain_text_kept_as_written() {
        let body = "<script>alert(1)</script>\nBcc: victim@example.com";
        let message = build(&from(), &letter(None, "Hi", body)).expect("builds");
        let headers = headers(&message);
        assert_eq!(
            named(&headers, "Content-Type")[0].as_str(),
            "Content-Type: text/plain; charset=utf-8"
        );
        assert!(named(&headers, "Bcc").is_empty(), "{headers:?}");
        let text = String::from_utf8(message.formatted()).expect("ASCII on the wire");
        let (_, content) = text.split_once("\r\n\r\n").expect("a body");
        assert_eq!(
            content.trim_end(),
            "<script>alert(1)</script>\r\nBcc: victim@example.com"
        );
    }

    #[test]
    fn retries_carry_the_same_message_id() {
        let message = build(&from(), &letter(None, "Hi", "Hello")).expect("builds");
        let headers = headers(&message);
        assert_eq!(
            named(&headers, "Message-ID")[0].as_str(),
            format!("Message-ID: <{}@localhost>", Uuid::nil())
        );
    }

    #[test]
    fn an_address_lettre_refuses_is_undeliverable() {
        let mut bad = letter(None, "Hi", "Hello");
        bad.to_address = "not an address";
        assert!(build(&from(), &bad).is_err());
    }

    #[test]
    fn display_names_lose_control_characters() {
        assert_eq!(
            display_name(Some(" Eve\r\n\tBcc:\u{2028} x ")).as_deref(),
            Some("EveBcc: x")
        );
        assert_eq!(display_name(Some("\r\n")), None);
        assert_eq!(display_name(None), None);
        assert_eq!(
            display_name(Some(&"a".repeat(300))).map(|n| n.len()),
            Some(100)
        );
    }
}
