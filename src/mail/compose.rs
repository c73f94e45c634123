//! The words of each mail. Subjects are fixed text and the session number only, so
//! nothing a visitor or a specialist typed can reach a header through them; what people
//! wrote goes into the plain-text body, where it stays text.

use super::message::display_name;
use super::{Mail, MailKind};
use crate::domain::inputs::Email;
use crate::domain::SessionId;

/// The mail that carries a specialist's reply to a visitor who left a message.
pub fn reply(
    session: SessionId,
    number: &str,
    to: Email,
    visitor_name: Option<&str>,
    specialist_name: &str,
    body: &str,
) -> Mail {
    let number = session_number(number);
    let specialist = display_name(Some(specialist_name)).unwrap_or_else(|| "We".to_owned());
    let text = format!(
        "{greeting}\n\n\
         {specialist} answered the message you left ({number}):\n\n\
         {body}\n\n\
         To reply, open the chat on our website again: the conversation goes on there.\n",
        greeting = greeting(visitor_name),
    );
    Mail {
        session,
        kind: MailKind::Reply,
        to,
        to_name: visitor_name.map(str::to_owned),
        subject: format!("Reply to your message ({number})"),
        body: text,
    }
}

/// The whole conversation, on the visitor's request: `conversation` is its plain-text
/// transcript, notes left out.
pub fn transcript(
    session: SessionId,
    number: &str,
    to: Email,
    visitor_name: Option<&str>,
    conversation: &str,
) -> Mail {
    let number = session_number(number);
    let text = format!(
        "{greeting}\n\n\
         Here is the transcript of your conversation {number}, as you asked.\n\n\
         {conversation}\n",
        greeting = greeting(visitor_name),
        conversation = conversation.trim_end(),
    );
    Mail {
        session,
        kind: MailKind::Transcript,
        to,
        to_name: visitor_name.map(str::to_owned),
        subject: format!("Transcript of your conversation {number}"),
        body: text,
    }
}

fn greeting(visitor_name: Option<&str>) -> String {
    match display_name(visitor_name) {
        Some(name) => format!("Hello {name},"),
        None => "Hello,".to_owned(),
    }
}

/// `CHAT-00000042` as the subject may carry it: letters, digits and dashes only, so the
/// subject stays fixed text whatever the caller passes.
fn session_number(number: &str) -> String {
    number
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email() -> Email {
        Email::parse("vera@example.com").expect("an address")
    }

    #[test]
    fn a_reply_names_the_specialist_and_carries_the_answer() {
        let mail = reply(
            SessionId::new(),
            "CHAT-00000042",
            email(),
            Some("Vera"),
            "Sam",
            "Your parcel left today.",
        );
        assert_eq!(mail.kind, MailKind::Reply);
        assert_eq!(mail.subject, "Reply to your message (CHAT-00000042)");
        assert!(mail.body.starts_with("Hello Vera,\n"));
        assert!(mail.body.contains("Sam answered the message you left"));
        assert!(mail.body.contains("\n\nYour parcel left today.\n\n"));
        assert_eq!(mail.to.as_str(), "vera@example.com");
    }

    #[test]
    fn the_subject_is_fixed_text_and_the_number() {
        let mail = transcript(
            SessionId::new(),
            "CHAT-1\r\nBcc: x@example.com",
            email(),
            None,
            "",
        );
        assert_eq!(
            mail.subject,
            "Transcript of your conversation CHAT-1Bccxexamplecom"
        );
        assert!(mail.body.starts_with("Hello,\n"));
    }

    #[test]
    fn names_in_the_greeting_are_one_line() {
        let mail = reply(
            SessionId::new(),
            "CHAT-00000001",
            email(),
            Some("Eve\r\nBcc: victim@example.com"),
            "Sam\n",
            "Hi",
        );
        assert!(mail.body.starts_with("Hello EveBcc: victim@example.com,\n"));
        assert!(mail.body.contains("\nSam answered"));
    }
}
