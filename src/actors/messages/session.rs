//! Messages to a session's `ChatSession` actor.

use actix::Message;
use chrono::{DateTime, Utc};
use tokio::sync::oneshot;
use uuid::Uuid;

use serde::{Deserialize, Serialize};

use crate::actors::reply::Reply;
use crate::auth::Caller;
use crate::conversation::{Answer, SessionCommand};
use crate::domain::{ScheduledId, SessionId, SpecialistId};
use crate::error::Error;
use crate::protocol::objects::Participant;

/// A request from a participant (over WebSocket or HTTP).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Command {
    pub caller: Caller,
    /// The caller's display name, shown as the sender of their messages.
    pub name: Option<String>,
    pub reply: Reply,
    pub command: SessionCommand,
}

/// From the scheduler: this session's scheduled message is due. `done` answers whether
/// it is settled (sent, cancelled, or already neither pending); `false` or a dropped
/// sender means the scheduler should try again.
#[derive(Message)]
#[rtype(result = "()")]
pub struct DeliverScheduled {
    pub id: ScheduledId,
    pub done: oneshot::Sender<bool>,
}

/// From the dispatcher: show the offer to the specialist.
#[derive(Message)]
#[rtype(result = "()")]
pub struct PresentOffer {
    pub offer_id: Uuid,
    pub specialist: SpecialistId,
    pub expires_at: DateTime<Utc>,
}

/// From the dispatcher: make `specialist` the session's specialist. `reply` is the
/// accepting specialist's request, when there is one.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Assign {
    pub specialist: SpecialistId,
    pub specialist_name: String,
    pub reply: Option<Reply>,
}

/// From the dispatcher: the visitor has been gone too long while waiting.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Abandon;

/// From the dispatcher: the specialist went offline; back to the queue.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ReturnToQueue {
    pub specialist: SpecialistId,
}

/// Replaces the session's tags (`session.tag`, or `PUT …/tags`), already checked.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetTags {
    pub caller: Caller,
    pub tags: Vec<String>,
    pub reply: Reply,
}

/// Archives or unarchives an ended or abandoned session.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetArchived {
    pub caller: Caller,
    pub archived: bool,
    pub reply: Reply,
}

/// A participant's client connected or dropped: tell the other side.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ParticipantPresence {
    pub participant: Participant,
    pub online: bool,
}

/// This node no longer serves the session (its lease ran out): the actor stops.
#[derive(Message)]
#[rtype(result = "()")]
pub struct StopSession;

/// A message to a session's actor as it crosses to the node serving the session (SPEC
/// section 13), without its reply channel: that stays on the sending node.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ToSession {
    Command {
        caller: Caller,
        name: Option<String>,
        command: SessionCommand,
    },
    SetTags {
        caller: Caller,
        tags: Vec<String>,
    },
    SetArchived {
        caller: Caller,
        archived: bool,
    },
    Presence {
        participant: Participant,
        online: bool,
    },
    PresentOffer {
        offer_id: Uuid,
        specialist: SpecialistId,
        expires_at: DateTime<Utc>,
    },
    Assign {
        specialist: SpecialistId,
        specialist_name: String,
    },
    Abandon,
    ReturnToQueue {
        specialist: SpecialistId,
    },
    DeliverScheduled {
        id: ScheduledId,
    },
}

/// Where the outcome of a message to a session goes.
pub enum Outcome {
    Nothing,
    Reply(Reply),
    /// A scheduled delivery's "settled?" answer.
    Done(oneshot::Sender<bool>),
}

/// What the serving node answers a forwarded message with.
#[derive(Debug, Serialize, Deserialize)]
pub enum FromSession {
    Answered(Box<Result<Answer, Error>>),
    Done(bool),
    /// Handed to the session's actor; it answers nothing.
    Delivered,
    /// This node does not serve the session (any more): ask its owner.
    Moved,
}

impl FromSession {
    pub fn failed(error: Error) -> FromSession {
        FromSession::Answered(Box::new(Err(error)))
    }
}

/// A message to a session, as the node serving the session receives it.
#[derive(Debug, Serialize, Deserialize)]
pub struct Forward {
    pub session: SessionId,
    /// The asking connection, which fan-out skips.
    pub origin: Option<u64>,
    pub wants: Wants,
    pub message: ToSession,
}

/// What outcome the sending node waits for.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub enum Wants {
    Nothing,
    Answer,
    Done,
}

/// A message any node may send to any session: split into what crosses to the serving
/// node and where its outcome goes here.
pub trait Routed: actix::Message<Result = ()> + Send + 'static {
    fn split(self) -> (ToSession, Outcome);
}

impl Routed for Command {
    fn split(self) -> (ToSession, Outcome) {
        let Command {
            caller,
            name,
            reply,
            command,
        } = self;
        let message = ToSession::Command {
            caller,
            name,
            command,
        };
        (message, Outcome::Reply(reply))
    }
}

impl Routed for SetTags {
    fn split(self) -> (ToSession, Outcome) {
        let message = ToSession::SetTags {
            caller: self.caller,
            tags: self.tags,
        };
        (message, Outcome::Reply(self.reply))
    }
}

impl Routed for SetArchived {
    fn split(self) -> (ToSession, Outcome) {
        let message = ToSession::SetArchived {
            caller: self.caller,
            archived: self.archived,
        };
        (message, Outcome::Reply(self.reply))
    }
}

impl Routed for ParticipantPresence {
    fn split(self) -> (ToSession, Outcome) {
        let message = ToSession::Presence {
            participant: self.participant,
            online: self.online,
        };
        (message, Outcome::Nothing)
    }
}

impl Routed for PresentOffer {
    fn split(self) -> (ToSession, Outcome) {
        let message = ToSession::PresentOffer {
            offer_id: self.offer_id,
            specialist: self.specialist,
            expires_at: self.expires_at,
        };
        (message, Outcome::Nothing)
    }
}

impl Routed for Assign {
    fn split(self) -> (ToSession, Outcome) {
        let message = ToSession::Assign {
            specialist: self.specialist,
            specialist_name: self.specialist_name,
        };
        (message, self.reply.map_or(Outcome::Nothing, Outcome::Reply))
    }
}

impl Routed for Abandon {
    fn split(self) -> (ToSession, Outcome) {
        (ToSession::Abandon, Outcome::Nothing)
    }
}

impl Routed for ReturnToQueue {
    fn split(self) -> (ToSession, Outcome) {
        let message = ToSession::ReturnToQueue {
            specialist: self.specialist,
        };
        (message, Outcome::Nothing)
    }
}

impl Routed for DeliverScheduled {
    fn split(self) -> (ToSession, Outcome) {
        let message = ToSession::DeliverScheduled { id: self.id };
        (message, Outcome::Done(self.done))
    }
}
