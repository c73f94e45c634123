//! Opening a conversation: what a visitor's `session.start` and a bot's handoff have in
//! common (priority, intent, language, skills, metadata), checked the same way for both,
//! and the row they become.

use crate::db::sessions::NewChatSession;
use crate::domain::{inputs, BotId, Metadata, Priority, SessionId, SessionStatus, VisitorId};
use crate::error::{Error, Result};

/// The routing and context of a new conversation, every field checked.
#[derive(Debug, Clone)]
pub struct Opening {
    pub priority: Priority,
    pub intent: Option<String>,
    pub language: Option<String>,
    pub skills: Vec<String>,
    pub metadata: Metadata,
}

/// The raw fields as a client sent them.
#[derive(Debug, Default)]
pub struct OpeningInput<'a> {
    pub priority: Option<Priority>,
    pub intent: Option<&'a str>,
    pub language: Option<&'a str>,
    pub skills: Option<&'a [String]>,
    pub metadata: Option<serde_json::Value>,
}

impl Opening {
    pub fn parse(input: OpeningInput<'_>) -> Result<Opening> {
        let language = match input.language {
            Some(language) => inputs::languages("language", &[language.to_owned()])?.pop(),
            None => None,
        };
        Ok(Opening {
            priority: input.priority.unwrap_or(Priority::Medium),
            intent: inputs::optional_text("intent", input.intent, 200)?,
            language,
            skills: inputs::skills("skills", input.skills.unwrap_or_default())?,
            metadata: Metadata::parse(input.metadata)?,
        })
    }

    /// A visitor's own start: they may not jump the queue.
    pub fn parse_for_visitor(input: OpeningInput<'_>) -> Result<Opening> {
        if input.priority.unwrap_or(Priority::Medium).rank() > Priority::Medium.rank() {
            return Err(Error::forbidden(
                "visitors may ask for priority low or medium only",
            ));
        }
        Opening::parse(input)
    }

    /// The row of the new session of `visitor`, created by `bot` when a bot handed it off.
    pub fn into_row(self, visitor: VisitorId, origin: Origin) -> NewChatSession {
        let (bot, idempotency_key, page_url, user_agent) = match origin {
            Origin::Visitor {
                page_url,
                user_agent,
            } => (None, None, page_url, user_agent),
            Origin::Handoff {
                bot,
                idempotency_key,
            } => (Some(bot), idempotency_key, None, None),
        };
        NewChatSession {
            id: SessionId::new(),
            visitor_id: visitor,
            created_by_bot_id: bot,
            idempotency_key,
            priority: self.priority,
            intent: self.intent,
            language: self.language,
            skills: self.skills,
            page_url,
            user_agent,
            metadata: self.metadata.into_inner(),
            status: SessionStatus::Waiting,
            callback_requested: false,
            left_message_at: None,
        }
    }
}

/// Who opened the conversation, with what only they give.
#[derive(Debug, Clone)]
pub enum Origin {
    Visitor {
        page_url: Option<String>,
        user_agent: Option<String>,
    },
    Handoff {
        bot: BotId,
        idempotency_key: Option<String>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn visitors_cannot_jump_the_queue_but_bots_can() {
        let urgent = || OpeningInput {
            priority: Some(Priority::Urgent),
            ..OpeningInput::default()
        };
        let refused = Opening::parse_for_visitor(urgent()).unwrap_err();
        assert_eq!(refused.code, ErrorCode::Forbidden);
        assert_eq!(Opening::parse(urgent()).unwrap().priority, Priority::Urgent);
    }

    #[test]
    fn both_paths_refuse_metadata_postgres_cannot_store() {
        for parse in [Opening::parse, Opening::parse_for_visitor] {
            let input = OpeningInput {
                metadata: Some(serde_json::json!({ "x": "a\u{0}b" })),
                ..OpeningInput::default()
            };
            assert_eq!(parse(input).unwrap_err().code, ErrorCode::BadRequest);
        }
    }

    #[test]
    fn labels_are_normalised_and_defaults_filled_in() {
        let skills = vec!["Billing".to_owned(), "billing".to_owned()];
        let opening = Opening::parse(OpeningInput {
            language: Some("DE"),
            skills: Some(&skills),
            intent: Some("  refund "),
            ..OpeningInput::default()
        })
        .unwrap();
        assert_eq!(opening.priority, Priority::Medium);
        assert_eq!(opening.language.as_deref(), Some("de"));
        assert_eq!(opening.skills, vec!["billing"]);
        assert_eq!(opening.intent.as_deref(), Some("refund"));
        let row = opening.into_row(
            VisitorId::new(),
            Origin::Visitor {
                page_url: None,
                user_agent: None,
            },
        );
        assert!(row.metadata.is_object());
        assert_eq!(row.created_by_bot_id, None);
    }
}
