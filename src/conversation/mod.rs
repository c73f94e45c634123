//! The conversation core: the rules of one session as a plain struct, in the sans-I/O
//! style. [`Conversation`] holds a session's state; each request or event is a method
//! that decides, without changing anything, what to commit ([`Change`]) and what follows
//! the commit; [`Conversation::committed`] then takes in what the database stored and
//! returns the [`Effect`]s to apply. No actor address, reply channel or database handle
//! appears here: the `ChatSession` actor performs the decisions, and the rules are
//! unit-tested by feeding requests and reading decisions.

mod assignment;
mod command;
mod decision;
#[cfg(test)]
mod fixtures;
mod left_message;
mod lifecycle;
mod messages;
mod offline;
mod opening;
mod pages;
mod presence;
mod scheduling;
mod state;
mod step;
mod workspace;

pub use assignment::Requeue;
pub use command::{SessionCommand, RESUME_LIMIT};
pub use decision::{
    Answer, Change, Effect, Event, FileToSend, QueueNotice, ReadCursor, ScheduledUpdate,
    Settlement, Stored,
};
pub use left_message::{Contact, LeftMessage};
pub use opening::{Opening, OpeningInput, Origin};
pub use pages::fit_reply;
pub use state::{Conversation, Peers, Restored, RECENT, REMEMBERED_KEYS};
pub use step::{Decision, PageAnswer, Query, Step, Then};
