//! When a visitor may have their conversation mailed to them, and to which address.
//!
//! The server must not become a way to mail arbitrary text to arbitrary addresses (SPEC
//! section 12): the conversation must be over, it is mailed once, and only if the
//! service said something in it, so what goes out is mostly the service's own words.

use crate::domain::inputs::Email;
use crate::domain::SessionStatus;
use crate::error::{Error, Result};

/// What the rules look at in the conversation.
#[derive(Debug, Clone, Copy)]
pub struct Conversation {
    pub status: SessionStatus,
    /// Its transcript has been mailed already (or is on its way).
    pub already_mailed: bool,
    /// A specialist or a bot wrote in it.
    pub answered: bool,
}

/// The address to mail the transcript to: the one asked for, else the visitor's own.
pub fn recipient(
    conversation: Conversation,
    asked: Option<Email>,
    on_record: Option<&str>,
) -> Result<Email> {
    if !matches!(
        conversation.status,
        SessionStatus::Ended | SessionStatus::Abandoned
    ) {
        return Err(Error::conflict(
            "the transcript can be mailed once the conversation has ended",
        ));
    }
    if conversation.already_mailed {
        return Err(Error::conflict(
            "the transcript of this conversation has been mailed already",
        ));
    }
    if !conversation.answered {
        return Err(Error::conflict(
            "nothing to send: nobody answered in this conversation",
        ));
    }
    match (asked, on_record.map(Email::parse)) {
        (Some(email), _) | (None, Some(Ok(email))) => Ok(email),
        _ => Err(Error::bad_request(
            "email: required, as no e-mail address is on record for you",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    const ENDED: Conversation = Conversation {
        status: SessionStatus::Ended,
        already_mailed: false,
        answered: true,
    };

    fn email(text: &str) -> Email {
        Email::parse(text).expect("an address")
    }

    fn code(result: Result<Email>) -> ErrorCode {
        result.expect_err("refused").code
    }

    #[test]
    fn an_answered_conversation_that_ended_is_mailed_to_the_address_asked_for() {
        let to = recipient(
            ENDED,
            Some(email("new@example.com")),
            Some("old@example.com"),
        );
        assert_eq!(to.expect("allowed").as_str(), "new@example.com");
    }

    #[test]
    fn without_an_address_the_one_on_record_is_used() {
        let to = recipient(ENDED, None, Some("Vera@Example.com"));
        assert_eq!(to.expect("allowed").as_str(), "vera@example.com");
        assert_eq!(code(recipient(ENDED, None, None)), ErrorCode::BadRequest);
    }

    #[test]
    fn an_abandoned_conversation_may_be_mailed_an_open_one_not() {
        let abandoned = Conversation {
            status: SessionStatus::Abandoned,
            ..ENDED
        };
        assert!(recipient(abandoned, Some(email("v@example.com")), None).is_ok());
        for status in [
            SessionStatus::Waiting,
            SessionStatus::Active,
            SessionStatus::Offline,
        ] {
            let open = Conversation { status, ..ENDED };
            assert_eq!(
                code(recipient(open, Some(email("v@example.com")), None)),
                ErrorCode::Conflict
            );
        }
    }

    #[test]
    fn a_transcript_is_mailed_once() {
        let mailed = Conversation {
            already_mailed: true,
            ..ENDED
        };
        assert_eq!(
            code(recipient(mailed, Some(email("v@example.com")), None)),
            ErrorCode::Conflict
        );
    }

    #[test]
    fn a_conversation_nobody_answered_is_not_mailed() {
        let unanswered = Conversation {
            answered: false,
            ..ENDED
        };
        let refused = recipient(unanswered, Some(email("v@example.com")), None);
        assert_eq!(code(refused), ErrorCode::Conflict);
    }
}
