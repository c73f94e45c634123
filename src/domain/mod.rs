//! The vocabulary of the product: typed ids and the enumerations that appear both in
//! the database and on the wire. Defining them once here means a status can only ever be
//! one of its variants, whether it came from Postgres, JSON or the command line.

mod enums;
mod ids;
pub mod inputs;

pub use enums::{
    MessageKind, ParticipantType, Priority, Role, ScheduledState, SessionEvent, SessionStatus,
};
pub use ids::{
    AttachmentId, BotId, CannedResponseId, MessageId, ScheduledId, SessionId, SpecialistId,
    VisitorId, WebhookEventId, WebhookId,
};
