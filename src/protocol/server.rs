//! Frames the server sends. Each is serialized once and the same text is written to every
//! connection that should see it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::client::SpecialistStatus;
use super::objects::{Message, Participant, Session, SessionSpecialist};
use crate::domain::{ScheduledId, SessionId};
use crate::error::ErrorCode;

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type")]
pub enum Frame {
    #[serde(rename = "hello")]
    Hello {
        role: crate::domain::Role,
        me: serde_json::Value,
        sessions: Vec<Session>,
    },
    #[serde(rename = "error")]
    Error {
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        code: ErrorCode,
        message: String,
    },
    #[serde(rename = "pong")]
    Pong {
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
    },
    #[serde(rename = "message.ack")]
    MessageAck {
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        client_msg_id: Option<String>,
        message: Message,
    },
    #[serde(rename = "message.scheduled")]
    MessageScheduled {
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        scheduled_id: ScheduledId,
        send_at: DateTime<Utc>,
    },
    #[serde(rename = "message.unscheduled")]
    MessageUnscheduled {
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        scheduled_id: ScheduledId,
    },
    #[serde(rename = "message.new")]
    MessageNew { message: Message },
    #[serde(rename = "typing")]
    Typing {
        session_id: SessionId,
        from: Participant,
        is_typing: bool,
    },
    #[serde(rename = "read")]
    Read {
        session_id: SessionId,
        by: Participant,
        seq: i32,
    },
    #[serde(rename = "session.state")]
    SessionState {
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        session: Session,
        messages: Vec<Message>,
        has_more: bool,
    },
    #[serde(rename = "history")]
    History {
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        session_id: SessionId,
        messages: Vec<Message>,
        has_more: bool,
    },
    #[serde(rename = "session.ended")]
    SessionEnded {
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        session_id: SessionId,
        ended_by: Participant,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        session: Session,
    },
    #[serde(rename = "session.started")]
    SessionStarted {
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        session: Session,
    },
    /// The answer to `message.leave`: the session now holds the visitor's message.
    #[serde(rename = "session.offline")]
    SessionOffline {
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        session: Session,
    },
    #[serde(rename = "session.rated")]
    SessionRated {
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        session_id: SessionId,
        rating: i16,
    },
    #[serde(rename = "queue.update")]
    QueueUpdate {
        session_id: SessionId,
        position: usize,
        estimated_wait_secs: Option<u64>,
        specialists_online: usize,
    },
    #[serde(rename = "session.assigned")]
    SessionAssigned {
        session_id: SessionId,
        specialist: SessionSpecialist,
    },
    #[serde(rename = "session.transferred")]
    SessionTransferred {
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        session_id: SessionId,
    },
    #[serde(rename = "presence")]
    Presence {
        session_id: SessionId,
        participant: Participant,
        online: bool,
    },
    #[serde(rename = "status")]
    Status {
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        status: SpecialistStatus,
    },
    #[serde(rename = "offer")]
    Offer {
        offer_id: uuid::Uuid,
        session: Session,
        expires_at: DateTime<Utc>,
    },
    #[serde(rename = "offer.declined")]
    OfferDeclined {
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        offer_id: uuid::Uuid,
    },
    #[serde(rename = "offer.revoked")]
    OfferRevoked {
        offer_id: uuid::Uuid,
        reason: String,
    },
    #[serde(rename = "queue.snapshot")]
    QueueSnapshot {
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        /// At most `SWITCHBOARD_QUEUE_LIST_MAX` entries, in queue order.
        waiting: Vec<WaitingEntry>,
        /// How many are waiting in all.
        total: usize,
        specialists: SpecialistCounts,
    },
    #[serde(rename = "session.tagged")]
    SessionTagged {
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        session_id: SessionId,
        tags: Vec<String>,
    },
    #[serde(rename = "queue.unwatched")]
    QueueUnwatched {
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WaitingEntry {
    pub session: Session,
    pub position: usize,
    pub waiting_secs: i64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SpecialistCounts {
    pub online: usize,
    pub away: usize,
}

impl Frame {
    pub fn error(reference: Option<String>, error: &crate::error::Error) -> Frame {
        Frame::Error {
            reference,
            code: error.code,
            message: error.message.clone(),
        }
    }

    /// The JSON text of the frame, shared by every connection it goes to.
    pub fn to_text(&self) -> bytestring::ByteString {
        serde_json::to_string(self)
            .expect("frames serialize: no maps with non-string keys")
            .into()
    }
}
