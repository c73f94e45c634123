//! Who is connected: the open WebSocket connections of every visitor and specialist,
//! shared by all handlers. Fan-out goes straight from the actor that decides to each
//! connection's bounded outbox, without an extra actor hop.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use actix::{Message, Recipient};
use actix_ws::CloseReason;
use bytestring::ByteString;
use dashmap::DashMap;
use tokio::sync::mpsc::{self, error::TrySendError};

pub use crate::domain::Peer;
use crate::protocol::Frame;

/// Frames a connection may have queued before it counts as too slow and is closed.
pub const OUTBOX_CAPACITY: usize = 1024;

/// What a connection's writer is asked to do.
#[derive(Debug)]
pub enum Outbound {
    Text(ByteString),
    Close(CloseReason),
}

/// Sent to a connection whose outbox overflowed; it closes with 1013.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Overflowed;

/// A handle to one WebSocket connection's outbox. Every request's reply carries one,
/// so a clone is one reference count (an actix address clone would allocate).
#[derive(Clone)]
pub struct ConnectionHandle {
    pub id: u64,
    channels: Arc<(mpsc::Sender<Outbound>, Recipient<Overflowed>)>,
}

impl ConnectionHandle {
    pub fn new(outbox: mpsc::Sender<Outbound>, overflow: Recipient<Overflowed>) -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            channels: Arc::new((outbox, overflow)),
        }
    }

    /// Queues a frame; a full outbox means the client fell too far behind.
    pub fn send(&self, text: ByteString) {
        let (outbox, overflow) = &*self.channels;
        match outbox.try_send(Outbound::Text(text)) {
            Ok(()) | Err(TrySendError::Closed(_)) => {}
            Err(TrySendError::Full(_)) => overflow.do_send(Overflowed),
        }
    }

    pub fn send_frame(&self, frame: &Frame) {
        self.send(frame.to_text());
    }

    /// Closes after the frames already queued have been written.
    pub fn close(&self, reason: CloseReason) {
        let _ = self.channels.0.try_send(Outbound::Close(reason));
    }
}

/// Maps keyed by server-made ids (connections, running actors): a fast hasher is safe.
pub type Map<K, V> = DashMap<K, V, foldhash::fast::RandomState>;

#[derive(Default)]
pub struct Connections {
    connections: Map<Peer, Vec<ConnectionHandle>>,
    /// When a peer's last connection closed; absent while connected or never seen.
    disconnected_at: Map<Peer, Instant>,
}

impl Connections {
    /// Registers a connection; returns true when it is the peer's first.
    pub fn connect(&self, peer: Peer, connection: ConnectionHandle) -> bool {
        self.disconnected_at.remove(&peer);
        let mut entry = self.connections.entry(peer).or_default();
        entry.push(connection);
        entry.len() == 1
    }

    /// Unregisters a connection; returns true when it was the peer's last.
    pub fn disconnect(&self, peer: Peer, connection_id: u64) -> bool {
        let last = match self.connections.get_mut(&peer) {
            Some(mut list) => {
                list.retain(|c| c.id != connection_id);
                list.is_empty()
            }
            None => return false,
        };
        if last {
            self.connections.remove_if(&peer, |_, list| list.is_empty());
            self.disconnected_at.insert(peer, Instant::now());
        }
        last
    }

    pub fn is_connected(&self, peer: Peer) -> bool {
        self.connections
            .get(&peer)
            .is_some_and(|list| !list.is_empty())
    }

    pub fn disconnected_since(&self, peer: Peer) -> Option<Instant> {
        self.disconnected_at.get(&peer).map(|at| *at)
    }

    pub fn forget(&self, peer: Peer) {
        self.disconnected_at.remove(&peer);
    }

    /// Sends `text` to every connection of `peer` except `skip`.
    pub fn send_to(&self, peer: Peer, text: &ByteString, skip: Option<u64>) {
        if let Some(list) = self.connections.get(&peer) {
            for connection in list.iter().filter(|c| Some(c.id) != skip) {
                connection.send(text.clone());
            }
        }
    }

    /// Closes every connection (graceful shutdown), after what is queued is written.
    pub fn close_all(&self, reason: CloseReason) {
        for list in self.connections.iter() {
            for connection in list.iter() {
                connection.close(reason.clone());
            }
        }
    }

    pub fn connection_count(&self) -> usize {
        self.connections.iter().map(|list| list.len()).sum()
    }
}
