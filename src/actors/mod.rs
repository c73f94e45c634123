//! The actors: every moving part of a conversation is an actor with typed messages. They
//! are thin: the rules they apply live in `conversation`, `routing` and `access`, and
//! the messages they send each other live in `messages`, apart from the actors.

pub mod connection;
pub mod connections;
pub mod dispatcher;
pub mod messages;
pub mod persistence;
pub mod reply;
pub mod scheduler;
pub mod session;
pub mod specialist;
