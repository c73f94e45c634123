//! Messages to the `Dispatcher`, and the inbox of those a session sends it.

use actix::{Message, Recipient};
use bytestring::ByteString;
use uuid::Uuid;

use crate::actors::connections::ConnectionHandle;
use crate::actors::reply::Reply;
use crate::conversation::Settlement;
use crate::db;
use crate::db::sessions::SessionView;
use crate::domain::{SessionId, SpecialistId};
use crate::error::Result;
use crate::protocol::objects::Session;
use crate::protocol::server::{SpecialistCounts, WaitingEntry};
use crate::routing::{SpecialistState, Status, Waiting};

/// A new or re-queued waiting session.
#[derive(Message, serde::Serialize, serde::Deserialize)]
#[rtype(result = "()")]
pub struct Enqueue {
    pub waiting: Waiting,
    pub session: Session,
    /// The specialist whose slot the session held (after a transfer).
    pub freed: Option<SpecialistId>,
}

/// Send the session's visitor their position now.
#[derive(Message, serde::Serialize, serde::Deserialize)]
#[rtype(result = "()")]
pub struct TellPosition(pub SessionId);

/// A specialist's profile and chosen status (from their `Specialist` actor).
#[derive(Message, serde::Serialize, serde::Deserialize)]
#[rtype(result = "()")]
pub struct SetAvailability {
    pub profile: SpecialistState,
    pub status: Status,
    /// The node with the consoles.
    pub node: String,
}

/// A specialist's consoles on `node` have been gone past the grace period, or, with no
/// node, the specialist is gone everywhere (disabled).
#[derive(Message, serde::Serialize, serde::Deserialize)]
#[rtype(result = "()")]
pub struct SpecialistGone {
    pub id: SpecialistId,
    pub node: Option<String>,
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct AcceptOffer {
    pub offer_id: Uuid,
    pub specialist: SpecialistId,
    pub reply: Reply,
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct DeclineOffer {
    pub offer_id: Uuid,
    pub specialist: SpecialistId,
    pub reply: Reply,
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct Pickup {
    pub session: SessionId,
    pub specialist: SpecialistId,
    /// The specialist's name, for a left message they take (it is not in the queue).
    pub name: Option<String>,
    pub reply: Reply,
}

/// How an `Assign` sent to a session turned out.
#[derive(Message, serde::Serialize, serde::Deserialize)]
#[rtype(result = "()")]
pub struct AssignmentSettled {
    pub session: SessionId,
    pub specialist: SpecialistId,
    pub settlement: Settlement,
}

/// A session ended: it leaves the queue or frees its specialist's slot.
#[derive(Message, serde::Serialize, serde::Deserialize)]
#[rtype(result = "()")]
pub struct SessionClosed {
    pub session: SessionId,
    pub specialist: Option<SpecialistId>,
    pub handled_secs: Option<f64>,
}

/// A left message went live when its visitor came back to the reply: from now on it is
/// one of its specialist's chats.
#[derive(Message, serde::Serialize, serde::Deserialize)]
#[rtype(result = "()")]
pub struct SessionReturned {
    pub session: SessionId,
    pub specialist: SpecialistId,
}

/// Whether a session may be transferred to this specialist now.
#[derive(Message, serde::Serialize, serde::Deserialize)]
#[rtype(result = "Result<()>")]
pub struct CheckTransferTarget(pub SpecialistId);

#[derive(Message)]
#[rtype(result = "()")]
pub struct WatchQueue {
    pub connection: ConnectionHandle,
    pub reference: Option<String>,
}

/// Stops snapshots to a connection; replies `queue.unwatched` when asked over WebSocket.
#[derive(Message)]
#[rtype(result = "()")]
pub struct UnwatchQueue {
    pub connection_id: u64,
    pub reply: Option<Reply>,
}

/// The open sessions of a specialist, for presence notices.
#[derive(Message, serde::Serialize, serde::Deserialize)]
#[rtype(result = "Result<Vec<SessionId>>")]
pub struct OpenSessionsOf(pub SpecialistId);

/// A specialist's status as the dispatcher knows it, for a console opening on a node
/// where they have none yet; `None` for a specialist it has not heard of.
#[derive(Message, serde::Serialize, serde::Deserialize)]
#[rtype(result = "Result<Option<Status>>")]
pub struct StatusOf(pub SpecialistId);

/// A queue summary for the HTTP API; with `shown`, its list holds only those sessions
/// (a bot's own), still at their true positions.
#[derive(Message, serde::Serialize, serde::Deserialize)]
#[rtype(result = "Result<QueueSummary>")]
pub struct GetQueue {
    pub shown: Option<Vec<SessionId>>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct QueueSummary {
    pub length: usize,
    pub specialists_online: usize,
    pub estimated_wait_secs: Option<u64>,
    pub waiting: Vec<WaitingEntry>,
}

/// A snapshot the dispatcher on another node sent, for the consoles watching here.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SnapshotArrived(pub ByteString);

/// The open sessions and the recent averages the wait estimate is seeded with, read
/// before the server listens: without its queue the server would route wrongly, so a
/// failure here stops the start-up instead.
#[derive(Default)]
pub struct Restored {
    pub open: Vec<SessionView>,
    pub averages: (Option<f64>, Option<f64>),
}

impl Restored {
    pub fn load(conn: &mut diesel::PgConnection) -> Result<Self> {
        Ok(Self {
            open: db::sessions::all_open(conn)?,
            averages: db::sessions::recent_averages(conn)?,
        })
    }
}

/// This node runs the dispatcher from now on, starting from what the database holds.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Lead(pub Restored);

/// Another node runs the dispatcher: this one forwards to it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Follow;

/// The nodes alive now: specialists whose consoles were only on other nodes are gone.
#[derive(Message)]
#[rtype(result = "()")]
pub struct NodesAlive(pub Vec<String>);

/// How many specialists are online and away right now, for the HTTP stats.
#[derive(Message, serde::Serialize, serde::Deserialize)]
#[rtype(result = "Result<SpecialistCounts>")]
pub struct CountSpecialists;

/// Whether anyone online could take a chat needing these skills and this language,
/// for `GET /availability` (SPEC section 14).
#[derive(Message, serde::Serialize, serde::Deserialize)]
#[rtype(result = "Result<Availability>")]
pub struct CheckAvailability {
    pub skills: Vec<String>,
    pub language: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Availability {
    /// Online specialists with every skill and the language, whatever their load.
    pub fitting_online: usize,
    /// Expected wait of such a chat joining the queue now; `None` when nobody fits.
    pub estimated_wait_secs: Option<u64>,
}

/// What sessions tell the dispatcher, as recipients: a session holds these, not the
/// dispatcher's address, so the session actor never depends on the dispatcher's.
#[derive(Clone)]
pub struct DispatcherInbox {
    pub enqueue: Recipient<Enqueue>,
    pub tell_position: Recipient<TellPosition>,
    pub settled: Recipient<AssignmentSettled>,
    pub closed: Recipient<SessionClosed>,
    pub returned: Recipient<SessionReturned>,
    pub check_transfer: Recipient<CheckTransferTarget>,
}
