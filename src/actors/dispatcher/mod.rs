//! The Dispatcher actor: the queue, its routing, and what it tells about the queue.

mod actor;
mod updates;

pub use actor::{Dispatcher, DispatcherContext, Restored};
