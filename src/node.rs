//! This node's life in a cluster (SPEC section 13): it registers a lease on itself in
//! Postgres, renews it every third of the lease, and serves its sessions to the other
//! nodes. A renewal that finds the lease already run out (the node was paused or cut
//! off) means other nodes may have claimed its sessions: it stops every session actor
//! (their commits would be refused by the epoch anyway), closes its clients' sockets so
//! they resume on a node that serves them, and registers afresh. On a clean stop it
//! gives everything up at once, so no one waits for its lease.

use std::time::Duration;

use actix_web::rt::time::Instant;

use actix_ws::{CloseCode, CloseReason};

use crate::db::ownership;
use crate::error::Result;
use crate::state::AppState;

/// Joins the cluster, if this node is in one: registers, starts renewing, serves.
pub async fn join(state: &AppState) -> Result<()> {
    let cluster = &state.cluster;
    if !cluster.is_clustered() {
        return Ok(());
    }
    let node = cluster.node_id.to_string();
    let lease = cluster.lease;
    let name = node.clone();
    state
        .db
        .run(move |conn| ownership::register(conn, &name, lease))
        .await?;
    state.sessions.serve().await?;
    let state = state.clone();
    actix::spawn(async move {
        let every = lease / 3;
        let mut ticks = actix_web::rt::time::interval_at(Instant::now() + every, every);
        loop {
            ticks.tick().await;
            let name = node.clone();
            let renewed = state
                .db
                .run(move |conn| ownership::renew(conn, &name, lease))
                .await;
            match renewed {
                Ok(true) => {}
                Ok(false) => lost(&state, &node, lease).await,
                Err(error) => log::warn!("node {node}: lease not renewed: {}", error.message),
            }
        }
    });
    Ok(())
}

/// The lease ran out before it was renewed: what this node served may be served
/// elsewhere now.
async fn lost(state: &AppState, node: &str, lease: Duration) {
    log::warn!("node {node}: its lease ran out; handing its clients to other nodes");
    state.sessions.stop_all();
    state.connections.close_all(CloseReason {
        code: CloseCode::Restart,
        description: Some("reconnect".into()),
    });
    let name = node.to_owned();
    if let Err(error) = state
        .db
        .run(move |conn| ownership::register(conn, &name, lease))
        .await
    {
        log::warn!("node {node}: could not register again: {}", error.message);
    }
}

/// A clean stop: this node serves nothing from now on and says so, so the other nodes
/// claim its sessions at their next request instead of after the lease.
pub async fn leave(state: &AppState) {
    let cluster = &state.cluster;
    if !cluster.is_clustered() {
        return;
    }
    state.sessions.drain();
    let node = cluster.node_id.to_string();
    if let Err(error) = state
        .db
        .run(move |conn| ownership::release(conn, &node))
        .await
    {
        log::warn!("could not end this node's lease: {}", error.message);
    }
    state.sessions.stop_all();
}
