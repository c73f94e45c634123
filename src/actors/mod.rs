//! The actors: every moving part of a conversation is an actor with typed messages. They
//! are thin glue; the rules they apply live in `routing` and `access`.

pub mod connection;
pub mod dispatcher;
pub mod persistence;
pub mod registry;
pub mod reply;
pub mod scheduler;
pub mod session;
pub mod specialist;
