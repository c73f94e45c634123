//! This node's life in a cluster (SPEC section 13): it registers a lease on itself in
//! Postgres, renews it every third of the lease, and serves its sessions to the other
//! nodes. A renewal that finds the lease already run out (the node was paused or cut
//! off) means other nodes may have claimed its sessions: it stops every session actor
//! (their commits would be refused by the epoch anyway), closes its clients' sockets so
//! they resume on a node that serves them, and registers afresh. On a clean stop it
//! gives everything up at once, so no one waits for its lease.
//!
//! At each renewal it also takes the dispatcher's role when nobody alive holds it, so
//! exactly one node runs the queue (see `actors::dispatcher::remote`); a node that
//! stops cleanly says the role is free, and the others take it at once.

use std::time::Duration;

use actix_web::rt::time::Instant;
use bytes::Bytes;
use bytestring::ByteString;
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use actix_ws::{CloseCode, CloseReason};

use crate::actors::dispatcher::{self, HELLO, SNAPSHOTS};
use crate::actors::messages::dispatcher::{Follow, Lead, NodesAlive, Restored, SnapshotArrived};
use crate::actors::specialist::STATUS_SUBJECTS;
use crate::cluster::Cluster;
use crate::counted::{self, Counted};
use crate::db::ownership;
use crate::domain::SpecialistId;
use crate::error::{Error, Result};
use crate::state::AppState;

/// The role of the node running the dispatcher.
const DISPATCHER: &str = "dispatcher";
/// How long joining waits for NATS to confirm this node's subscriptions.
const SUBSCRIBED_WITHIN: Duration = Duration::from_secs(2);
/// Said by a node that stops while running the dispatcher: take the role now.
const VACANT: &str = "sb.dispatcher.vacant";

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
    listen(state).await;
    let (wake, mut vacancies) = mpsc::channel(1);
    on_each(cluster, VACANT.into(), move |_| {
        let _ = wake.try_send(());
    })
    .await;
    // What other nodes publish from now on reaches this one, unless NATS is away.
    cluster.flush(SUBSCRIBED_WITHIN).await;
    let state = state.clone();
    actix::spawn(async move {
        let mut role = DispatcherRole::default();
        role.hold(&state).await;
        let every = lease / 3;
        let mut ticks = actix_web::rt::time::interval_at(Instant::now() + every, every);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = vacancies.recv() => {
                    role.hold(&state).await;
                    continue;
                }
            }
            if state.sessions.draining() {
                return;
            }
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
            role.hold(&state).await;
        }
    });
    Ok(())
}

/// What other nodes send to every node: a queue snapshot for the consoles watching
/// here, a specialist's new status, what they counted against a limit, or, from a new
/// dispatcher, the question who is online here.
async fn listen(state: &AppState) {
    let cluster = &state.cluster;
    let dispatcher = state.dispatcher.clone();
    on_each(cluster, SNAPSHOTS.into(), move |snapshot| {
        if let Ok(text) = ByteString::try_from(snapshot.payload) {
            dispatcher.do_send(SnapshotArrived(text));
        }
    })
    .await;
    let specialists = state.specialists.clone();
    on_each(cluster, format!("{STATUS_SUBJECTS}*"), move |change| {
        let id = change.subject.strip_prefix(STATUS_SUBJECTS);
        let id = id.and_then(|id| id.parse().ok()).map(SpecialistId);
        let status = serde_json::from_slice(&change.payload).ok();
        if let (Some(id), Some(status)) = (id, status) {
            specialists.status_changed(id, status);
        }
    })
    .await;
    let (limiters, logins) = (state.limiters.clone(), state.logins.clone());
    on_each(cluster, counted::SUBJECT.into(), move |count| {
        if let Ok(counted) = serde_json::from_slice::<Counted>(&count.payload) {
            limiters.count(&counted);
            logins.count(&counted);
        }
    })
    .await;
    let specialists = state.specialists.clone();
    on_each(cluster, HELLO.into(), move |_| specialists.republish_all()).await;
}

/// Hands every message published on `subject` from now on to `handle`.
async fn on_each(
    cluster: &Cluster,
    subject: String,
    mut handle: impl FnMut(async_nats::Message) + 'static,
) {
    if let Some(mut messages) = cluster.subscribe(subject).await {
        actix::spawn(async move {
            while let Some(message) = messages.next().await {
                handle(message);
            }
        });
    }
}

/// The dispatcher's role as this node holds it: the task serving it to the other
/// nodes while it does.
#[derive(Default)]
struct DispatcherRole {
    serving: Option<JoinHandle<()>>,
}

impl DispatcherRole {
    /// Takes the role if it is free, keeps it, or lets it go if another node took it.
    async fn hold(&mut self, state: &AppState) {
        if state.sessions.draining() {
            return;
        }
        let node = state.cluster.node_id.to_string();
        let held = state
            .db
            .run(move |conn| ownership::take_role(conn, DISPATCHER, &node))
            .await;
        let result = match (held, self.serving.is_some()) {
            (Ok(true), false) => self.lead(state).await,
            (Ok(true), true) => self.count_nodes(state).await,
            (Ok(false), true) => {
                self.follow(state).await;
                Ok(())
            }
            (Ok(false), false) => Ok(()),
            (Err(error), _) => Err(error),
        };
        if let Err(error) = result {
            log::warn!("the dispatcher's role: {}", error.message);
        }
    }

    /// Starts the dispatcher here from what Postgres holds, then serves it: what other
    /// nodes sent meanwhile found no dispatcher and is sent again, so none is lost.
    async fn lead(&mut self, state: &AppState) -> Result<()> {
        let restored = state.db.run(Restored::load).await?;
        state
            .dispatcher
            .send(Lead(restored))
            .await
            .map_err(Error::internal)?;
        self.serving = Some(dispatcher::serve(&state.cluster, state.dispatcher.clone()).await?);
        state.cluster.publish(HELLO.into(), Bytes::new());
        state.specialists.republish_all();
        Ok(())
    }

    async fn follow(&mut self, state: &AppState) {
        if let Some(serving) = self.serving.take() {
            serving.abort();
        }
        let _ = state.dispatcher.send(Follow).await;
    }

    /// Tells the dispatcher which nodes are alive: consoles on a dead one are gone.
    async fn count_nodes(&self, state: &AppState) -> Result<()> {
        let alive = state.db.run(ownership::live_nodes).await?;
        state.dispatcher.do_send(NodesAlive(alive));
        Ok(())
    }
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
    let leading = cluster.leads();
    let _ = state.dispatcher.send(Follow).await;
    let node = cluster.node_id.to_string();
    if let Err(error) = state
        .db
        .run(move |conn| ownership::release(conn, &node))
        .await
    {
        log::warn!("could not end this node's lease: {}", error.message);
    }
    if leading {
        cluster.publish(VACANT.into(), Bytes::new());
    }
    state.sessions.stop_all();
}
