//! Limits counted across the cluster (SPEC section 13): what one client may do per
//! minute, and how many failed logins an account or an address may have, hold however
//! the balancer spreads its requests. Each node counts what it admits and tells the
//! others over NATS, which count it too: a few milliseconds late, and, should NATS drop
//! a count, generous by that one, but never a node's limit times the number of nodes.
//! Caps on connections held at once stay per node: they protect that node's memory.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Where nodes tell each other what they counted.
pub const SUBJECT: &str = "sb.counted";

/// One thing a node counted against a limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Counted {
    /// A visitor created from this client address (`POST /visitors`).
    Signup(IpAddr),
    /// A message sent over HTTP by this caller.
    HttpMessage(Uuid),
    /// A file uploaded by this caller.
    Upload(Uuid),
    /// A failed login at the account with this digest, from this address.
    LoginFailed { account: [u8; 32], address: IpAddr },
    /// A login that succeeded: the account's failures are forgotten.
    LoginSucceeded { account: [u8; 32] },
}
