//! Several nodes (SPEC section 13). The design, which the rest of this module will be
//! built to, is in the README ("Several nodes: the design"): leases with epochs in
//! Postgres as fencing tokens, NATS for commands and fan-out, repair from Postgres.
//!
//! Built so far: each node's name, and its connection to NATS when
//! `SWITCHBOARD_NATS_URL` is set. The client connects in the background and keeps
//! reconnecting, so a node starts while NATS is down and `/readyz` says whether it is
//! reachable. Without the setting the node runs alone, exactly as before.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// A node's name: what it is called in logs, metrics and, later, in leases.
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
}

impl Cluster {
    /// Names the node (`node_id`, or a generated name) and, when a NATS URL is given,
    /// starts connecting to it. Fails only for a URL the client cannot use at all.
    pub async fn join(node_id: Option<NodeId>, nats_url: Option<&str>) -> Result<Cluster> {
        let node_id = node_id.unwrap_or_else(NodeId::generate);
        let nats = match nats_url {
            None => None,
            Some(url) => {
                let client = async_nats::ConnectOptions::new()
                    .name(node_id.to_string())
                    .retry_on_initial_connect()
                    .connect(url)
                    .await
                    .map_err(|e| Error::internal(format!("NATS at {url}: {e}")))?;
                log::info!("node {node_id}: joining the cluster through NATS at {url}");
                Some(client)
            }
        };
        Ok(Cluster { node_id, nats })
    }

    /// Whether NATS is reachable now; `None` for a node without NATS.
    pub fn nats_connected(&self) -> Option<bool> {
        let client = self.nats.as_ref()?;
        Some(client.connection_state() == async_nats::connection::State::Connected)
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
