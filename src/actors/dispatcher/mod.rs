//! The Dispatcher actor: the queue, its routing, and what it tells about the queue.

mod abandon;
mod actor;
mod remote;
mod updates;
mod wire;

pub use actor::{Dispatcher, DispatcherContext};
pub use remote::{serve, HELLO, SNAPSHOTS};
