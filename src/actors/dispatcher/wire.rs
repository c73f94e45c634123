//! The dispatcher's messages and answers in the form they cross NATS in, between a
//! node that forwards them and the node that runs the dispatcher.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::actors::messages::dispatcher::{
    AssignmentSettled, Availability, CheckAvailability, CheckTransferTarget, CountSpecialists,
    Enqueue, GetQueue, OpenSessionsOf, QueueSummary, SessionClosed, SessionReturned,
    SetAvailability, SpecialistGone, StatusOf, TellPosition,
};
use crate::actors::reply::Reply;
use crate::domain::{SessionId, SpecialistId};
use crate::error::Result;
use crate::protocol::server::SpecialistCounts;
use crate::routing::Status;

/// The connection on another node that asked, and its request's `ref`.
#[derive(Serialize, Deserialize)]
pub struct Asker {
    pub reference: Option<String>,
    pub origin: Option<u64>,
}

impl Asker {
    pub fn of(reply: &Reply) -> Asker {
        Asker {
            reference: reply.reference(),
            origin: reply.connection_id(),
        }
    }
}

/// A message to the dispatcher as it crosses NATS.
#[derive(Serialize, Deserialize)]
pub enum ToDispatcher {
    Tell(Tell),
    Ask(Ask),
}

/// What the dispatcher is told, needing no answer.
#[derive(Serialize, Deserialize)]
pub enum Tell {
    Enqueue(Box<Enqueue>),
    TellPosition(TellPosition),
    SetAvailability(SetAvailability),
    SpecialistGone(SpecialistGone),
    AssignmentSettled(AssignmentSettled),
    SessionClosed(SessionClosed),
    SessionReturned(SessionReturned),
}

/// What the dispatcher is asked: a WebSocket request, or a question.
#[derive(Serialize, Deserialize)]
pub enum Ask {
    AcceptOffer {
        offer_id: Uuid,
        specialist: SpecialistId,
        asker: Asker,
    },
    DeclineOffer {
        offer_id: Uuid,
        specialist: SpecialistId,
        asker: Asker,
    },
    Pickup {
        session: SessionId,
        specialist: SpecialistId,
        name: Option<String>,
        asker: Asker,
    },
    CheckTransferTarget(CheckTransferTarget),
    OpenSessionsOf(OpenSessionsOf),
    StatusOf(StatusOf),
    GetQueue(GetQueue),
    CountSpecialists(CountSpecialists),
    CheckAvailability(CheckAvailability),
    Snapshot {
        reference: Option<String>,
    },
}

/// The dispatcher's answer, as it crosses NATS back.
#[derive(Serialize, Deserialize)]
pub enum FromDispatcher {
    Done,
    /// The frame for the asking connection, when the request has one.
    Frame(Option<String>),
    Checked(Result<()>),
    Open(Vec<SessionId>),
    Status(Option<Status>),
    Queue(QueueSummary),
    Counts(SpecialistCounts),
    Availability(Availability),
}
