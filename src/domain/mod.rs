//! The vocabulary of the product: typed ids, the enumerations that appear both in the
//! database and on the wire, and the inputs parsed at the boundary. Defining them once
//! here means a status can only ever be one of its variants, and a body can only ever be
//! a valid body, whether it came from Postgres, JSON or the command line.

pub mod chat;
mod enums;
mod ids;
pub mod inputs;
mod peer;

pub use chat::{Body, ClientMsgId, Content, HistoryLimit, Metadata, Rating, Remark, SendAt};
pub use enums::{
    MessageKind, ParticipantType, Priority, Role, ScheduledState, SessionEvent, SessionStatus,
};
pub use ids::{
    AttachmentId, BotId, CannedResponseId, MessageId, ScheduledId, SessionId, SpecialistId,
    VisitorId, WebhookEventId, WebhookId,
};
pub use peer::Peer;
