//! Several nodes (SPEC section 13): the transport between them. The design is in the
//! README ("Several nodes"): Postgres judges who owns what (`db::ownership`: leases,
//! epochs as fencing tokens, the dispatcher's role), NATS carries requests to a
//! session's owner (`actors::session::route`), messages to the dispatcher
//! (`actors::dispatcher::remote`), frames to a peer's connections on other nodes with
//! the repair of lost ones (`actors::connections`) and counts against limits
//! (`counted`); `node` keeps this node's lease and role.
//!
//! This module only names the node and moves bytes: requests with their answers,
//! publications and subscriptions. The client connects in the background and keeps
//! reconnecting, so a node starts while NATS is down and `/readyz` says whether it is
//! reachable. Without `SWITCHBOARD_NATS_URL` there is no client, and nothing is sent.

use std::fmt;
use std::future::Future;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::RequestErrorKind;
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::{mpsc, watch};

use crate::error::{Error, Result};

/// A node's name: what it is called in logs, metrics and the ownership rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeId(String);

impl NodeId {
    /// A name for a node that was given none: unique enough among a site's nodes.
    pub fn generate() -> NodeId {
        NodeId(format!(
            "node-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for NodeId {
    type Err = String;

    /// 1 to 64 letters, digits, `-`, `_` or `.`: safe in a metric label and a NATS subject.
    fn from_str(raw: &str) -> std::result::Result<NodeId, String> {
        let valid = (1..=64).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if valid {
            Ok(NodeId(raw.to_owned()))
        } else {
            Err("1 to 64 letters, digits, `-`, `_` or `.`".to_owned())
        }
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// This node, and its link to the other nodes.
pub struct Cluster {
    pub node_id: NodeId,
    nats: Option<async_nats::Client>,
    /// What is to be published, in order, to the one task that hands it to the client.
    outgoing: Option<mpsc::Sender<(String, Bytes)>>,
    /// How long this node's leases run without renewal.
    pub lease: Duration,
    /// Messages this node sent to other nodes (commands, answers, events).
    pub sent: AtomicU64,
    /// Whether this node leads: runs the dispatcher and the work done once per cluster
    /// (scheduled messages, webhook delivery, search indexing). Always on a single
    /// node; in a cluster, on the node holding the dispatcher's role.
    leading: AtomicBool,
    /// Counts this node's connections to NATS: what was published while it was away
    /// is lost to it, and is read again from Postgres at each new one.
    connected: Arc<watch::Sender<u64>>,
}

/// Frames waiting for the NATS client at most: a few seconds of a busy node's traffic.
const PUBLISH_QUEUE: usize = 65_536;

/// How long a clean stop gives the tasks reading subscriptions to see them end.
const CLOSING: Duration = Duration::from_millis(200);

/// Why a request to another node got no answer.
#[derive(Debug, PartialEq)]
pub enum Unanswered {
    /// Nobody listens for the node: it is gone, or NATS lost its subscription.
    NoResponder,
    /// It listens but did not answer in time, or NATS is unreachable.
    Failed,
}

impl Cluster {
    /// Names the node (`node_id`, or a generated name) and, when a NATS URL is given,
    /// starts connecting to it. Fails only for a URL the client cannot use at all.
    pub async fn join(
        node_id: Option<NodeId>,
        nats_url: Option<&str>,
        lease: Duration,
    ) -> Result<Cluster> {
        let node_id = node_id.unwrap_or_else(NodeId::generate);
        let connected = Arc::new(watch::Sender::new(0));
        let counted = connected.clone();
        let nats = match nats_url {
            None => None,
            Some(url) => {
                let client = async_nats::ConnectOptions::new()
                    .name(node_id.to_string())
                    .retry_on_initial_connect()
                    // A node delivers its own events itself: what it publishes must
                    // not come back to it.
                    .no_echo()
                    .event_callback(move |event| {
                        if matches!(event, async_nats::Event::Connected) {
                            counted.send_modify(|connections| *connections += 1);
                        }
                        async {}
                    })
                    .connect(url)
                    .await
                    .map_err(|e| Error::internal(format!("NATS at {url}: {e}")))?;
                log::info!("node {node_id}: joining the cluster through NATS at {url}");
                Some(client)
            }
        };
        let outgoing = nats.clone().map(|client| {
            let (outgoing, mut queued) = mpsc::channel::<(String, Bytes)>(PUBLISH_QUEUE);
            actix::spawn(async move {
                while let Some((subject, payload)) = queued.recv().await {
                    let _ = client.publish(subject, payload).await;
                }
            });
            outgoing
        });
        Ok(Cluster {
            node_id,
            outgoing,
            lease,
            sent: AtomicU64::new(0),
            leading: AtomicBool::new(nats.is_none()),
            connected,
            nats,
        })
    }

    /// This node's name when it is one of several; `None` for a node alone.
    pub fn member(&self) -> Option<&NodeId> {
        self.nats.as_ref().map(|_| &self.node_id)
    }

    /// Changes each time this node connects to NATS again.
    pub fn reconnections(&self) -> watch::Receiver<u64> {
        self.connected.subscribe()
    }

    pub fn leads(&self) -> bool {
        self.leading.load(Ordering::Acquire)
    }

    pub fn set_leading(&self, leading: bool) {
        self.leading.store(leading, Ordering::Release);
    }

    /// Whether this node is one of several (NATS is configured).
    pub fn is_clustered(&self) -> bool {
        self.nats.is_some()
    }

    /// Whether NATS is reachable now; `None` for a node without NATS.
    pub fn nats_connected(&self) -> Option<bool> {
        let client = self.nats.as_ref()?;
        Some(client.connection_state() == async_nats::connection::State::Connected)
    }

    /// Asks `subject` and waits for its answer, at most `patience`.
    pub async fn request(
        &self,
        subject: String,
        payload: Bytes,
        patience: Duration,
    ) -> Result<Bytes, Unanswered> {
        let client = self.nats.as_ref().ok_or(Unanswered::Failed)?;
        self.sent.fetch_add(1, Ordering::Relaxed);
        let request = async_nats::Request::new()
            .payload(payload)
            .timeout(Some(patience));
        match client.send_request(subject, request).await {
            Ok(answer) => Ok(answer.payload),
            Err(e) if e.kind() == RequestErrorKind::NoResponders => Err(Unanswered::NoResponder),
            Err(_) => Err(Unanswered::Failed),
        }
    }

    /// Publishes to whoever listens on `subject`, if anyone, after everything published
    /// before it: a peer's frames reach other nodes in the order they were sent. Never
    /// waits; past the queue's bound (NATS away a long time) the frame is lost, as NATS
    /// may lose it anyway.
    pub fn publish(&self, subject: String, payload: Bytes) {
        if let Some(outgoing) = &self.outgoing {
            self.sent.fetch_add(1, Ordering::Relaxed);
            let _ = outgoing.try_send((subject, payload));
        }
    }

    /// The messages published on `subject` from now on (none without NATS).
    pub async fn subscribe(&self, subject: String) -> Option<async_nats::Subscriber> {
        let client = self.nats.as_ref()?;
        client.subscribe(subject).await.ok()
    }

    /// Waits, `patience` at most, until NATS has had everything sent so far: the
    /// subscriptions made before are in force.
    pub async fn flush(&self, patience: Duration) {
        if let Some(client) = &self.nats {
            let _ = tokio::time::timeout(patience, client.flush()).await;
        }
    }

    /// Answers every request on `subject` with `answer`'s reply, each in a task of its
    /// own so a slow answer holds up no other, until the returned task is aborted.
    /// Subscribers of one subject form a queue group: should two nodes serve it for a
    /// moment (a role changing hands), each request is still served once.
    pub async fn serve<F, Fut>(
        &self,
        subject: String,
        answer: F,
    ) -> Result<tokio::task::JoinHandle<()>>
    where
        F: Fn(Bytes) -> Fut + 'static,
        Fut: Future<Output = Bytes> + 'static,
    {
        let Some(client) = self.nats.clone() else {
            return Ok(actix::spawn(async {}));
        };
        let mut requests = client
            .queue_subscribe(subject.clone(), subject.clone())
            .await
            .map_err(|e| Error::internal(format!("NATS subscription {subject}: {e}")))?;
        Ok(actix::spawn(async move {
            while let Some(request) = requests.next().await {
                let Some(reply_to) = request.reply else {
                    continue;
                };
                let answered = answer(request.payload);
                let client = client.clone();
                actix::spawn(async move {
                    let _ = client.publish(reply_to, answered.await).await;
                });
            }
        }))
    }

    /// Ends every subscription (a clean stop), so the tasks reading them end while the
    /// runtime still runs: a subscription dropped after it cannot unsubscribe, and the
    /// NATS client panics.
    pub async fn close(&self) {
        if let Some(client) = &self.nats {
            let _ = client.drain().await;
            tokio::time::sleep(CLOSING).await;
        }
    }

    /// Answers a request that needs no more than an answer: "here".
    pub fn acknowledge(&self, reply_to: String) {
        self.publish(reply_to, Bytes::new());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_id_is_a_short_plain_name() {
        assert!("node-1".parse::<NodeId>().is_ok());
        assert!("eu-west.a_2".parse::<NodeId>().is_ok());
        assert!("".parse::<NodeId>().is_err());
        assert!("a b".parse::<NodeId>().is_err());
        assert!("a\"b".parse::<NodeId>().is_err());
        assert!("n".repeat(65).parse::<NodeId>().is_err());
        let generated = NodeId::generate();
        assert_eq!(generated.to_string().parse::<NodeId>(), Ok(generated));
    }
}
