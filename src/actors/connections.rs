//! Who is connected: the open WebSocket connections of every visitor and specialist,
//! shared by all handlers. Fan-out goes straight from the actor that decides to each
//! connection's bounded outbox, without an extra actor hop.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use actix::{Message, Recipient};
use actix_ws::CloseReason;
use bytestring::ByteString;
use dashmap::DashMap;
use tokio::sync::mpsc;

pub use crate::domain::Peer;
use crate::protocol::Frame;

/// What a connection's writer is asked to do.
#[derive(Debug)]
pub enum Outbound {
    Text(ByteString),
    Close(CloseReason),
}

/// Sent to a connection whose writer may be stuck behind a peer that does not read.
#[derive(Message)]
#[rtype(result = "()")]
pub enum Stalled {
    /// The outbox overflowed: the connection is dropped at once.
    Overflowed,
    /// A close was queued: if the writer has not sent it soon, the connection is dropped.
    Closing(CloseReason),
}

/// A handle to one WebSocket connection's outbox. Every request's reply carries one,
/// so a clone is one reference count (an actix address clone would allocate).
#[derive(Clone)]
pub struct ConnectionHandle {
    pub id: u64,
    outbox: Arc<Outbox>,
}

/// Frames waiting for the connection's writer, bounded in bytes: a client that does not
/// read cannot make the server hold more than the limit for it.
struct Outbox {
    sender: mpsc::UnboundedSender<Outbound>,
    stalled: Recipient<Stalled>,
    /// Bytes queued and not yet handed to the socket.
    queued: AtomicUsize,
    limit: usize,
}

impl ConnectionHandle {
    /// A handle to the outbox `sender` feeds; past `limit` queued bytes, `overflow` hears.
    pub fn new(
        sender: mpsc::UnboundedSender<Outbound>,
        stalled: Recipient<Stalled>,
        limit: usize,
    ) -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            outbox: Arc::new(Outbox {
                sender,
                stalled,
                queued: AtomicUsize::new(0),
                limit,
            }),
        }
    }

    /// Queues a frame; past the byte limit the client fell too far behind.
    pub fn send(&self, text: ByteString) {
        let outbox = &*self.outbox;
        let len = text.len();
        if outbox.queued.fetch_add(len, Ordering::Relaxed) + len > outbox.limit {
            outbox.queued.fetch_sub(len, Ordering::Relaxed);
            outbox.stalled.do_send(Stalled::Overflowed);
            return;
        }
        if outbox.sender.send(Outbound::Text(text)).is_err() {
            outbox.queued.fetch_sub(len, Ordering::Relaxed);
        }
    }

    pub fn send_frame(&self, frame: &Frame) {
        self.send(frame.to_text());
    }

    /// The writer has handed `len` bytes to the socket.
    pub fn written(&self, len: usize) {
        self.outbox.queued.fetch_sub(len, Ordering::Relaxed);
    }

    /// Closes after the frames already queued have been written, or soon regardless if
    /// the peer does not read them.
    pub fn close(&self, reason: CloseReason) {
        let _ = self.outbox.sender.send(Outbound::Close(reason.clone()));
        self.outbox.stalled.do_send(Stalled::Closing(reason));
    }
}

/// Maps keyed by server-made ids (connections, running actors): a fast hasher is safe.
pub type Map<K, V> = DashMap<K, V, foldhash::fast::RandomState>;

#[derive(Default)]
pub struct Connections {
    connections: Map<Peer, Vec<ConnectionHandle>>,
    /// Connections admitted per peer: open, or between the upgrade and the actor's start.
    admitted: Map<Peer, usize>,
    /// When a peer's last connection closed; absent while connected or never seen.
    disconnected_at: Map<Peer, Instant>,
}

/// A place for one more connection of a peer, held for as long as the connection lives.
pub struct Admission {
    connections: Arc<Connections>,
    peer: Peer,
}

impl Drop for Admission {
    fn drop(&mut self) {
        if let Some(mut count) = self.connections.admitted.get_mut(&self.peer) {
            *count = count.saturating_sub(1);
        }
        self.connections
            .admitted
            .remove_if(&self.peer, |_, count| *count == 0);
    }
}

impl Connections {
    /// Admits one more connection of `peer` unless it has `limit` already.
    pub fn admit(self: &Arc<Self>, peer: Peer, limit: usize) -> Option<Admission> {
        let mut count = self.admitted.entry(peer).or_insert(0);
        if *count >= limit {
            return None;
        }
        *count += 1;
        drop(count);
        Some(Admission {
            connections: self.clone(),
            peer,
        })
    }

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

    /// How many connections `peer` has open.
    pub fn count(&self, peer: Peer) -> usize {
        self.connections.get(&peer).map_or(0, |list| list.len())
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

    /// Forgets when peers left that have been gone longer than `gone`: past it nothing
    /// asks any more, and visitors who never come back must not pile up.
    pub fn forget_gone(&self, gone: std::time::Duration) {
        self.disconnected_at.retain(|_, at| at.elapsed() < gone);
    }

    /// Sends `text` to every connection of `peer` except `skip`.
    pub fn send_to(&self, peer: Peer, text: &ByteString, skip: Option<u64>) {
        if let Some(list) = self.connections.get(&peer) {
            for connection in list.iter().filter(|c| Some(c.id) != skip) {
                connection.send(text.clone());
            }
        }
    }

    /// Closes every connection of `peer`, after what is queued is written.
    pub fn close_peer(&self, peer: Peer, reason: CloseReason) {
        if let Some(list) = self.connections.get(&peer) {
            for connection in list.iter() {
                connection.close(reason.clone());
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
