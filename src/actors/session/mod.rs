//! The `ChatSession` actor and what it needs: the directory that finds or starts a
//! session's actor, the one function that commits a conversation's change, loading, and
//! a visitor's start or message left.

mod actor;
mod checks;
mod commit;
mod dispatched;
mod load;
mod requests;
mod route;
mod scheduled;
mod start;

pub use actor::{ChatSession, SessionContext, Sessions};
pub use commit::{create, file_to_send};
pub use start::{Leaving, Opener};
