//! Messages to a session's `ChatSession` actor.

use actix::Message;
use chrono::{DateTime, Utc};
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::actors::reply::Reply;
use crate::auth::Caller;
use crate::conversation::SessionCommand;
use crate::domain::{ScheduledId, SpecialistId};
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
