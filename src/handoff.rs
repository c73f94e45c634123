//! Handoff: a bot passes a conversation to the humans with everything it learned. The
//! visitor is found by the bot's `external_id` among the visitors this bot handed over
//! (or created), the bot's transcript becomes the first messages of the session (seq
//! 1…n), a system message says a specialist is being connected, and the session joins
//! the queue like any other.
//!
//! Bots are isolated from each other: an `external_id` is only ever matched within the
//! bot that gave it, so no bot can obtain a token for another bot's visitor, and no
//! error here names a session the bot may not see.
//!
//! An `Idempotency-Key` makes the request safe to retry: the key is stored on the
//! session (unique per bot), so a retry finds the session instead of creating another.
//! The whole handoff is one transaction, so a retry never finds half a session.

use chrono::{DateTime, Utc};
use diesel::Connection;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::actors::session;
use crate::conversation::{Event, Opening, OpeningInput, Origin};
use crate::db;
use crate::db::sessions::SessionView;
use crate::domain::inputs::{self, optional_text, Email};
use crate::domain::{
    BotId, MessageId, MessageKind, ParticipantType, Priority, SessionEvent, VisitorId,
};
use crate::error::{Error, ErrorCode, Result};
use crate::state::AppState;
use crate::webhooks::Webhooks;

/// Most transcript entries one handoff may carry.
pub const MAX_TRANSCRIPT: usize = 1000;
const MAX_IDEMPOTENCY_KEY: usize = 200;
const CONNECTING: &str = "You are being connected to a specialist, who can see this conversation.";

/// The body of `POST /api/v1/sessions`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Handoff {
    pub visitor: HandoffVisitor,
    pub intent: Option<String>,
    pub priority: Option<Priority>,
    pub language: Option<String>,
    pub skills: Option<Vec<String>>,
    /// The conversation so far, oldest first.
    pub transcript: Option<Vec<TranscriptEntry>>,
    /// Any JSON object of at most 16 KiB, shown to specialists.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
}

/// Who the visitor is. An `external_id` this bot gave before reuses that visitor; the
/// same `external_id` from another bot is a different visitor.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandoffVisitor {
    pub external_id: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TranscriptEntry {
    pub from: TranscriptAuthor,
    pub body: String,
    /// When it was said; defaults to the time of the handoff.
    pub at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TranscriptAuthor {
    Visitor,
    Bot,
}

/// A handoff that passed every check, ready to be stored.
struct Checked {
    visitor: db::visitors::NewVisitor,
    session: db::sessions::NewChatSession,
    transcript: Vec<(TranscriptAuthor, String, Option<DateTime<Utc>>)>,
}

/// The stored session and whether this request created it (false for a retry).
pub struct HandedOff {
    pub view: SessionView,
    pub created: bool,
}

/// Validates an `Idempotency-Key` header value.
pub fn idempotency_key(raw: &str) -> Result<String> {
    let key = raw.trim();
    if key.is_empty()
        || key.len() > MAX_IDEMPOTENCY_KEY
        || !key.chars().all(|c| c.is_ascii_graphic() || c == ' ')
    {
        return Err(Error::bad_request(format!(
            "Idempotency-Key: 1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters"
        )));
    }
    Ok(key.to_owned())
}

fn check(handoff: Handoff, bot: BotId, key: Option<String>) -> Result<Checked> {
    let email = match handoff
        .visitor
        .email
        .as_deref()
        .filter(|e| !e.trim().is_empty())
    {
        Some(raw) => Some(Email::parse(raw)?.into_inner()),
        None => None,
    };
    let visitor = db::visitors::NewVisitor {
        id: VisitorId::new(),
        external_id: optional_text(
            "visitor.external_id",
            handoff.visitor.external_id.as_deref(),
            200,
        )?,
        name: optional_text("visitor.name", handoff.visitor.name.as_deref(), 100)?,
        email,
        phone: optional_text("visitor.phone", handoff.visitor.phone.as_deref(), 50)?,
    };
    let opening = Opening::parse(OpeningInput {
        priority: handoff.priority,
        intent: handoff.intent.as_deref(),
        language: handoff.language.as_deref(),
        skills: handoff.skills.as_deref(),
        metadata: handoff.metadata,
    })?;
    let entries = handoff.transcript.unwrap_or_default();
    if entries.len() > MAX_TRANSCRIPT {
        return Err(Error::bad_request(format!(
            "transcript: at most {MAX_TRANSCRIPT} entries"
        )));
    }
    let transcript = entries
        .into_iter()
        .enumerate()
        .map(|(i, entry)| {
            let body = inputs::body_text(Some(&entry.body))
                .map_err(|e| Error::bad_request(format!("transcript[{i}].{}", e.message)))?;
            if entry.at.is_some_and(|at| at < DateTime::UNIX_EPOCH) {
                return Err(Error::bad_request(format!(
                    "transcript[{i}].at: not before 1970"
                )));
            }
            Ok((entry.from, body, entry.at))
        })
        .collect::<Result<Vec<_>>>()?;
    let session = opening.into_row(
        visitor.id,
        Origin::Handoff {
            bot,
            idempotency_key: key,
        },
    );
    Ok(Checked {
        visitor,
        session,
        transcript,
    })
}

/// Stores the handoff (or finds the one stored under the same key) and queues it.
pub async fn hand_off(
    state: &AppState,
    bot: BotId,
    handoff: Handoff,
    key: Option<String>,
) -> Result<HandedOff> {
    let checked = check(handoff, bot, key.clone())?;
    let stored = state
        .db
        .run({
            let webhooks = state.webhooks.clone();
            let owner = state.sessions.claim_as();
            move |conn| {
                conn.transaction(|conn| store(conn, &webhooks, bot, checked, owner.as_deref()))
            }
        })
        .await;
    state.webhooks.committed();
    let handed_off = match (stored, key) {
        // Two retries raced and the other one won: its session is ours too.
        (Err(error), Some(key)) if error.code == ErrorCode::Conflict => {
            state
                .db
                .run(move |conn| {
                    let found = db::sessions::find_by_idempotency_key(conn, bot, &key)?;
                    found
                        .map(|view| HandedOff {
                            view,
                            created: false,
                        })
                        .ok_or(error)
                })
                .await?
        }
        (stored, _) => stored?,
    };
    if handed_off.created {
        let view = &handed_off.view;
        log::info!(
            "session {} handed off by bot {bot} with {} messages",
            view.row.id,
            view.row.last_seq
        );
        state.sessions.opened(view.clone());
    }
    Ok(handed_off)
}

fn store(
    conn: &mut diesel::PgConnection,
    webhooks: &Webhooks,
    bot: BotId,
    checked: Checked,
    owner: Option<&str>,
) -> Result<HandedOff> {
    if let Some(key) = checked.session.idempotency_key.as_deref() {
        if let Some(view) = db::sessions::find_by_idempotency_key(conn, bot, key)? {
            return Ok(HandedOff {
                view,
                created: false,
            });
        }
    }
    let visitor = if checked.visitor.external_id.is_some() {
        db::visitors::upsert_by_external_id(conn, bot, &checked.visitor)?
    } else {
        db::visitors::insert(conn, &checked.visitor)?
    };
    // The open session may be one the visitor started themselves, which the bot may not
    // see, so the error does not name it.
    if !db::sessions::open_for_visitor(conn, visitor.id)?.is_empty() {
        return Err(Error::conflict("the visitor already has an open session"));
    }
    let session = db::sessions::NewChatSession {
        visitor_id: visitor.id,
        ..checked.session
    };
    let now = Utc::now();
    let messages: Vec<db::messages::Message> = checked
        .transcript
        .into_iter()
        .map(|(author, body, at)| {
            let (sender_type, sender_id) = match author {
                TranscriptAuthor::Visitor => (ParticipantType::Visitor, visitor.id.0),
                TranscriptAuthor::Bot => (ParticipantType::Bot, bot.0),
            };
            (sender_type, Some(sender_id), MessageKind::Text, body, at)
        })
        .chain(std::iter::once((
            ParticipantType::System,
            None,
            MessageKind::System,
            CONNECTING.to_owned(),
            None,
        )))
        .zip(1..)
        .map(
            |((sender_type, sender_id, kind, body, at), seq)| db::messages::Message {
                id: MessageId::new(),
                session_id: session.id,
                seq,
                sender_type,
                sender_id,
                kind,
                body,
                attachment_id: None,
                client_msg_id: None,
                // A transcript cannot have been said in the future.
                created_at: at.map_or(now, |at| at.min(now)),
            },
        )
        .collect();
    let created = Event {
        kind: SessionEvent::Queued,
        actor: Some((ParticipantType::Bot, Some(bot.0))),
        data: serde_json::json!({ "handoff": true }),
    };
    let view = session::create(conn, webhooks, &session, &messages, &created, owner)?;
    Ok(HandedOff {
        view,
        created: true,
    })
}
