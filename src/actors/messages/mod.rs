//! The typed messages actors send each other, kept apart from the actors that handle
//! them: an actor names the messages it sends, never the actor that receives them, so
//! no two actors import each other.

pub mod dispatcher;
pub mod scheduler;
pub mod session;
pub mod specialist;
