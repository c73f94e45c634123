//! What a transition decides, as data: the [`Change`] to commit in one transaction, and
//! after the commit the [`Effect`]s to apply, in order. The session actor performs both;
//! nothing here touches a socket, a channel or the database.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::left_message::Contact;
use super::state::Peers;
use crate::db::{self, sessions::SessionChanges};
use crate::domain::{
    AttachmentId, ParticipantType, ScheduledId, SessionEvent, SessionId, SpecialistId, VisitorId,
};
use crate::error::Error;
use crate::mail::Mail;
use crate::protocol::objects::{Audience, Message, Participant, Session};
use crate::protocol::Frame;
use crate::routing::Waiting;
use crate::webhooks::WebhookEvent;

/// What one transition asks of the database. Everything in it commits together or not at
/// all; checks that can refuse run first, so a refusal writes nothing.
#[derive(Debug, Default)]
pub struct Change {
    pub session: SessionId,
    pub messages: Vec<db::messages::Message>,
    pub row: Option<SessionChanges>,
    pub event: Option<Event>,
    pub webhook: Option<WebhookEvent>,
    /// A specialist to remember as having taken part (an assignment); the commit checks
    /// they have a free chat slot, unless `beyond_capacity`.
    pub participant: Option<SpecialistId>,
    /// A left message taken to answer: it does not count against the specialist's chats
    /// (SPEC section 14).
    pub beyond_capacity: bool,
    /// What the visitor who left a message gave to be reached at.
    pub contact: Option<(VisitorId, Contact)>,
    /// A reply mailed to a visitor who left a message, written to the mail outbox.
    pub mail: Option<Mail>,
    pub read_cursor: Option<ReadCursor>,
    pub tags: Option<Vec<String>>,
    /// A file to check before the message that carries it is stored: uploaded to this
    /// session by the sender, and in no message yet.
    pub file: Option<FileToSend>,
    pub new_scheduled: Option<db::scheduled_messages::ScheduledMessage>,
    pub scheduled: Option<ScheduledUpdate>,
    /// Cancels the session's pending scheduled messages (it ended).
    pub cancel_scheduled: bool,
}

impl Change {
    pub fn new(session: SessionId) -> Change {
        Change {
            session,
            ..Change::default()
        }
    }

    /// Only messages to append: the hot path, merged into the batch's one INSERT.
    pub fn only_appends(&self) -> bool {
        self.row.is_none()
            && self.event.is_none()
            && self.webhook.is_none()
            && self.participant.is_none()
            && self.contact.is_none()
            && self.mail.is_none()
            && self.read_cursor.is_none()
            && self.tags.is_none()
            && self.file.is_none()
            && self.new_scheduled.is_none()
            && self.scheduled.is_none()
            && !self.cancel_scheduled
    }
}

/// An entry of the session's audit trail.
#[derive(Debug, Clone)]
pub struct Event {
    pub kind: SessionEvent,
    pub actor: Option<(ParticipantType, Option<Uuid>)>,
    pub data: serde_json::Value,
}

#[derive(Debug, Clone, Copy)]
pub struct FileToSend {
    pub attachment: AttachmentId,
    pub uploader: Option<Uuid>,
}

#[derive(Debug, Clone, Copy)]
pub struct ReadCursor {
    pub kind: ParticipantType,
    pub reader: Uuid,
    pub seq: i32,
}

/// How a due scheduled message is settled. `Sent` commits only while the row is still
/// pending, so an unschedule that won the race is never overridden.
#[derive(Debug, Clone, Copy)]
pub enum ScheduledUpdate {
    Sent {
        id: ScheduledId,
        seq: i32,
        at: DateTime<Utc>,
    },
    Cancelled(ScheduledId),
}

/// What the database handed back for a committed change.
#[derive(Debug, Default)]
pub struct Stored {
    /// The session row after the change, when the change touched it.
    pub row: Option<db::sessions::ChatSession>,
    pub file: Option<db::attachments::Attachment>,
    pub scheduled: Option<db::scheduled_messages::ScheduledMessage>,
    /// Scheduled messages cancelled with the session.
    pub cancelled: Vec<ScheduledId>,
    /// The visitor after their contact details changed.
    pub visitor: Option<db::visitors::Visitor>,
}

/// What to do once a change is committed (or instead of committing anything).
#[derive(Debug)]
pub enum Effect {
    /// Answer the requester.
    Answer(Answer),
    /// Answer the requester with an error.
    Refuse(Error),
    /// Send to every connection of `to` but the requester's, which has its answer.
    Deliver {
        frame: Frame,
        to: Peers,
    },
    /// Send to every connection of `to`, the requester's included.
    Announce {
        frame: Frame,
        to: Peers,
    },
    /// Answer the requester with the whole conversation (`session.state`) as `audience`
    /// sees it, read from the database, before the effects that follow.
    AnswerWithTranscript(Audience),
    Queue(QueueNotice),
    Schedule {
        id: ScheduledId,
        send_at: DateTime<Utc>,
    },
    Forget(Vec<ScheduledId>),
}

/// What the dispatcher hears of a session.
#[derive(Debug)]
pub enum QueueNotice {
    /// Waiting (again): queue it. `freed` is the specialist whose slot it held.
    Enqueue {
        waiting: Box<Waiting>,
        session: Box<Session>,
        freed: Option<SpecialistId>,
    },
    /// It ended: out of the queue, or its specialist's slot freed.
    Closed {
        specialist: Option<SpecialistId>,
        handled_secs: Option<f64>,
    },
    /// A left message went live: it counts as one of its specialist's chats.
    Returned { specialist: SpecialistId },
    /// How an assignment the dispatcher asked for turned out.
    Settled {
        specialist: SpecialistId,
        settlement: Settlement,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Settlement {
    /// Assigned after waiting this long in the queue.
    Assigned { waited_secs: f64 },
    /// Not assigned: the session stopped waiting meanwhile.
    NoLongerWaiting,
    /// Not assigned: the commit failed and the session is still waiting.
    Failed,
}

/// The answer to a request, whatever carried it: a connection renders it as a frame, an
/// HTTP handler as a response body.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub enum Answer {
    Sent(Message),
    Scheduled {
        id: ScheduledId,
        send_at: DateTime<Utc>,
    },
    Ended {
        ended_by: Participant,
        reason: Option<String>,
        session: Session,
    },
    Rated(i16),
    Transferred,
    State {
        session: Session,
        messages: Vec<Message>,
        has_more: bool,
    },
    History {
        messages: Vec<Message>,
        has_more: bool,
    },
    Tagged(Vec<String>),
    Archived(Session),
    /// A message left: the session as its visitor now sees it.
    Offline(Session),
}

impl Answer {
    /// The frame that answers request `reference` of session `session_id`; archiving is
    /// asked over HTTP only and has none.
    pub fn into_frame(self, session_id: SessionId, reference: Option<String>) -> Option<Frame> {
        Some(match self {
            Answer::Sent(message) => Frame::MessageAck {
                reference,
                client_msg_id: message.client_msg_id.clone(),
                message,
            },
            Answer::Scheduled { id, send_at } => Frame::MessageScheduled {
                reference,
                scheduled_id: id,
                send_at,
            },
            Answer::Ended {
                ended_by,
                reason,
                session,
            } => Frame::SessionEnded {
                reference,
                session_id,
                ended_by,
                reason,
                session,
            },
            Answer::Rated(rating) => Frame::SessionRated {
                reference,
                session_id,
                rating,
            },
            Answer::Transferred => Frame::SessionTransferred {
                reference,
                session_id,
            },
            Answer::State {
                session,
                messages,
                has_more,
            } => Frame::SessionState {
                reference,
                session,
                messages,
                has_more,
            },
            Answer::History { messages, has_more } => Frame::History {
                reference,
                session_id,
                messages,
                has_more,
            },
            Answer::Tagged(tags) => Frame::SessionTagged {
                reference,
                session_id,
                tags,
            },
            Answer::Offline(session) => Frame::SessionOffline { reference, session },
            Answer::Archived(_) => return None,
        })
    }
}
