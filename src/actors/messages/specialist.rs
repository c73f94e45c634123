//! Messages to a specialist's `Specialist` actor.

use crate::actors::reply::Reply;
use crate::routing::{SpecialistState, Status};
use actix::Message;

/// A console connected; answers the specialist's current status.
#[derive(Message)]
#[rtype(result = "Status")]
pub struct ConsoleConnected;

#[derive(Message)]
#[rtype(result = "()")]
pub struct ConsoleDisconnected;

#[derive(Message)]
#[rtype(result = "()")]
pub struct SetStatus {
    pub status: Status,
    pub reply: Reply,
}

/// An admin changed the specialist's skills, languages or capacity.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ProfileChanged(pub SpecialistState);

/// The specialist's current status, for a console's `hello`.
#[derive(Message)]
#[rtype(result = "Status")]
pub struct GetStatus;

/// A new dispatcher asks: the specialist's status and profile, once more.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Republish;

/// The specialist chose a status at a console on another node.
#[derive(Message)]
#[rtype(result = "()")]
pub struct StatusChanged(pub Status);
