//! What goes on the wire: every WebSocket frame of SPEC section 4 as a serde type, and
//! the objects (messages, sessions, people) shared with the HTTP API. This is the one
//! place frame names are spelled; wire objects are separate from database rows.

pub mod client;
pub mod objects;
pub mod server;
pub mod webhooks;

pub use client::{parse, ParsedFrame, Request};
pub use server::Frame;
