//! Who is connected: the open WebSocket connections of every visitor and specialist,
//! shared by all handlers. Fan-out goes straight from the actor that decides to each
//! connection's bounded outbox, without an extra actor hop.
//!
//! In a cluster (SPEC section 13) a peer's connections may be on several nodes: what is
//! sent to a peer is also published on its NATS subject, and each node listens on the
//! subjects of the peers connected to it and hands what arrives to their connections.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::{Message, Recipient};
use actix_ws::CloseReason;
use bytes::Bytes;
use bytestring::ByteString;
use dashmap::DashMap;
use futures_util::StreamExt;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::cluster::{Cluster, Unanswered};
use crate::db::{self, messages::Page, Db};
pub use crate::domain::Peer;
use crate::domain::{ParticipantType, SessionId};
use crate::protocol::objects;
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
        Self {
            id: next_connection_id(),
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

/// A connection id unique across the cluster, as fan-out from another node names the
/// connection it skips: a random high half per process, then a counter.
fn next_connection_id() -> u64 {
    static BASE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let base = *BASE.get_or_init(|| {
        let mut high = [0u8; 4];
        getrandom::getrandom(&mut high).expect("the operating system's random numbers");
        u64::from(u32::from_le_bytes(high)) << 32
    });
    base | NEXT.fetch_add(1, Ordering::Relaxed)
}

/// How long the other nodes are given to say whether a peer is connected to them.
const PRESENCE_PATIENCE: Duration = Duration::from_secs(2);

/// Maps keyed by server-made ids (connections, running actors): a fast hasher is safe.
pub type Map<K, V> = DashMap<K, V, foldhash::fast::RandomState>;

#[derive(Default)]
pub struct Connections {
    connections: Map<Peer, Vec<ConnectionHandle>>,
    /// Connections admitted per peer: open, or between the upgrade and the actor's start.
    admitted: Map<Peer, usize>,
    /// When a peer's last connection closed; absent while connected or never seen.
    disconnected_at: Map<Peer, Instant>,
    /// The other nodes, when there are any.
    cluster: Option<Arc<Cluster>>,
    /// Where messages lost between nodes are read again from.
    db: Option<Db>,
    /// What listens for other nodes' frames to each peer connected here.
    listening: Map<Peer, tokio::task::AbortHandle>,
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
    pub fn new(cluster: Arc<Cluster>, db: Db) -> Connections {
        Connections {
            cluster: cluster.is_clustered().then_some(cluster),
            db: Some(db),
            ..Connections::default()
        }
    }

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
    pub fn connect(self: &Arc<Self>, peer: Peer, connection: ConnectionHandle) -> bool {
        self.disconnected_at.remove(&peer);
        let mut entry = self.connections.entry(peer).or_default();
        entry.push(connection);
        let first = entry.len() == 1;
        drop(entry);
        if first {
            self.listen(peer);
        }
        first
    }

    /// Hands what other nodes send to `peer` to its connections here, in order. Core
    /// NATS drops what is published while a node is cut off from it, so messages are
    /// checked by `seq`: one that skips ahead, or a reconnection to NATS, has what was
    /// missed read from Postgres and delivered first.
    fn listen(self: &Arc<Self>, peer: Peer) {
        let Some(cluster) = &self.cluster else { return };
        let cluster = cluster.clone();
        let connections = self.clone();
        let task = tokio::spawn(async move {
            let Some(mut frames) = cluster.subscribe(peer_subject(peer)).await else {
                return;
            };
            let mut reconnected = cluster.reconnections();
            let mut delivered = Delivered::default();
            loop {
                tokio::select! {
                    frame = frames.next() => {
                        let Some(frame) = frame else { return };
                        if let Some(asking) = frame.reply {
                            cluster.acknowledge(asking.to_string());
                        } else if let Some(wrapped) = unwrap_frame(frame.payload) {
                            connections.relayed(peer, wrapped, &mut delivered).await;
                        }
                    }
                    Ok(()) = reconnected.changed() => {
                        for (session, last) in delivered.clone() {
                            connections.catch_up(peer, session, last, None, &mut delivered).await;
                        }
                    }
                }
            }
        });
        if let Some(previous) = self.listening.insert(peer, task.abort_handle()) {
            previous.abort();
        }
    }

    /// Delivers a frame from another node, after the messages it shows were missed.
    async fn relayed(&self, peer: Peer, wrapped: Wrapped, delivered: &mut Delivered) {
        if let Some((session, seq)) = wrapped.message {
            match arrival(delivered.get(&session).copied(), seq) {
                Arrival::Seen => return,
                Arrival::After(last) => {
                    self.catch_up(peer, session, last, Some(seq), delivered)
                        .await;
                }
                Arrival::Next => {}
            }
            delivered.insert(session, seq);
        }
        self.send_here(peer, &wrapped.text, wrapped.skip);
    }

    /// Delivers the messages of `session` after `last` (and before `until`) from
    /// Postgres: what NATS lost. Internal notes only go to staff.
    async fn catch_up(
        &self,
        peer: Peer,
        session: SessionId,
        last: i32,
        until: Option<i32>,
        delivered: &mut Delivered,
    ) {
        let Some(db) = &self.db else { return };
        let with_notes = peer.kind != ParticipantType::Visitor;
        let mut after = last;
        loop {
            let page = Page::After(after);
            let read = db
                .run(move |conn| {
                    Ok(db::messages::page(
                        conn, session, page, CATCH_UP, with_notes,
                    )?)
                })
                .await;
            let (missed, more) = match read {
                Ok(read) => read,
                Err(error) => {
                    log::warn!(
                        "session {session}: missed messages not read: {}",
                        error.message
                    );
                    return;
                }
            };
            for stored in &missed {
                let message = objects::Message::from_stored(stored);
                if until.is_some_and(|until| message.seq >= until) {
                    return;
                }
                after = message.seq;
                delivered.insert(session, message.seq);
                self.send_here(peer, &Frame::MessageNew { message }.to_text(), None);
            }
            if !more {
                return;
            }
        }
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
            if let Some((_, listener)) = self.listening.remove(&peer) {
                listener.abort();
            }
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

    /// Whether `peer` has a connection on any node. A node that cannot tell counts
    /// as one that has it: nobody is given up on for a broker's hiccup.
    pub async fn is_connected_anywhere(&self, peer: Peer) -> bool {
        if self.is_connected(peer) {
            return true;
        }
        let Some(cluster) = &self.cluster else {
            return false;
        };
        let asked = cluster
            .request(peer_subject(peer), Bytes::new(), PRESENCE_PATIENCE)
            .await;
        asked != Err(Unanswered::NoResponder)
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

    /// Sends `text` to every connection of `peer` except `skip`, on every node.
    pub fn send_to(&self, peer: Peer, text: &ByteString, skip: Option<u64>) {
        if let Some(cluster) = &self.cluster {
            cluster.publish(peer_subject(peer), wrap_frame(skip, None, text));
        }
        self.send_here(peer, text, skip);
    }

    /// Sends `text`, the frame of message `seq` of `session`, as `send_to` does; the
    /// other nodes check by its `seq` that none went missing on the way.
    pub fn send_message_to(
        &self,
        peer: Peer,
        text: &ByteString,
        skip: Option<u64>,
        (session, seq): (SessionId, i32),
    ) {
        if let Some(cluster) = &self.cluster {
            let wrapped = wrap_frame(skip, Some((session, seq)), text);
            cluster.publish(peer_subject(peer), wrapped);
        }
        self.send_here(peer, text, skip);
    }

    /// Sends `text` to every connection of `peer` on this node except `skip`.
    fn send_here(&self, peer: Peer, text: &ByteString, skip: Option<u64>) {
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

/// The NATS subject of what is sent to `peer`.
fn peer_subject(peer: Peer) -> String {
    let kind = match peer.kind {
        ParticipantType::Visitor => "visitor",
        _ => "specialist",
    };
    format!("sb.peer.{kind}.{}", peer.id.simple())
}

/// The last message of each session a peer's connections here got from another node.
type Delivered = HashMap<SessionId, i32>;

/// How message `seq` of a session stands to the last one its peer got here.
#[derive(Debug, PartialEq)]
enum Arrival {
    /// Delivered already (read from Postgres after a gap): dropped.
    Seen,
    /// The next one, or the first this node sees: delivered.
    Next,
    /// Later than the next: the messages after this `seq` went missing on the way.
    After(i32),
}

fn arrival(last: Option<i32>, seq: i32) -> Arrival {
    match last {
        Some(last) if seq <= last => Arrival::Seen,
        Some(last) if seq > last + 1 => Arrival::After(last),
        _ => Arrival::Next,
    }
}

/// Messages read again from Postgres at a time.
const CATCH_UP: i64 = 500;

/// A frame from another node: the connection it skips, the message it carries (its
/// session and `seq`), and the text.
#[derive(Debug, PartialEq)]
struct Wrapped {
    skip: Option<u64>,
    message: Option<(SessionId, i32)>,
    text: ByteString,
}

/// A frame for another node's connections: the id of the connection it skips (0 for
/// none), the `seq` of the message it carries (0 for none) and its session's id (zeros
/// for none), then the text.
fn wrap_frame(skip: Option<u64>, message: Option<(SessionId, i32)>, text: &ByteString) -> Bytes {
    let (session, seq) = message.map_or((Uuid::nil(), 0), |(session, seq)| (session.0, seq));
    let mut payload = Vec::with_capacity(HEADER + text.len());
    payload.extend_from_slice(&skip.unwrap_or(0).to_be_bytes());
    payload.extend_from_slice(&seq.to_be_bytes());
    payload.extend_from_slice(session.as_bytes());
    payload.extend_from_slice(text.as_bytes());
    Bytes::from(payload)
}

const HEADER: usize = 8 + 4 + 16;

fn unwrap_frame(payload: Bytes) -> Option<Wrapped> {
    let skip = u64::from_be_bytes(payload.get(..8)?.try_into().ok()?);
    let seq = i32::from_be_bytes(payload.get(8..12)?.try_into().ok()?);
    let session = Uuid::from_slice(payload.get(12..HEADER)?).ok()?;
    let text = ByteString::try_from(payload.slice(HEADER..)).ok()?;
    Some(Wrapped {
        skip: (skip != 0).then_some(skip),
        message: (seq != 0).then_some((SessionId(session), seq)),
        text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_crosses_to_another_node_with_the_connection_it_skips_and_its_message() {
        let text = ByteString::from("{\"type\":\"typing\"}");
        let typing = Wrapped {
            skip: Some(7),
            message: None,
            text: text.clone(),
        };
        assert_eq!(unwrap_frame(wrap_frame(Some(7), None, &text)), Some(typing));
        let session = SessionId(Uuid::new_v4());
        let message = Wrapped {
            skip: None,
            message: Some((session, 42)),
            text: text.clone(),
        };
        let wrapped = wrap_frame(None, Some((session, 42)), &text);
        assert_eq!(unwrap_frame(wrapped), Some(message));
        assert_eq!(unwrap_frame(Bytes::from_static(b"short")), None);
    }

    #[test]
    fn a_message_that_skips_ahead_reveals_the_missing_ones_and_a_repeat_is_dropped() {
        assert_eq!(arrival(None, 7), Arrival::Next);
        assert_eq!(arrival(Some(6), 7), Arrival::Next);
        assert_eq!(arrival(Some(3), 7), Arrival::After(3));
        assert_eq!(arrival(Some(7), 7), Arrival::Seen);
        assert_eq!(arrival(Some(9), 7), Arrival::Seen);
    }
}
