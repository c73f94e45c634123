//! The Dispatcher actor: the queue, its routing, and what it tells about the queue.

mod abandon;
mod actor;
mod remote;
mod updates;

pub use actor::{Dispatcher, DispatcherContext};
pub use remote::{serve, HELLO, SNAPSHOTS};
