//! Giving up on waiting visitors who left: a waiting session whose visitor has had no
//! connection for the abandonment limit is abandoned. On one node the dispatcher knows
//! when each visitor's last connection closed. In a cluster the visitor may be on
//! another node: one not connected here is looked for on every node each quarter of the
//! limit, and abandoned when no node has them and the limit has passed since one last
//! did, so between three quarters of the limit and the limit after they left.

use std::time::Instant;

use actix::prelude::*;

use super::actor::Dispatcher;
use crate::actors::connections::Peer;
use crate::actors::messages::session::Abandon;
use crate::domain::SessionId;
use crate::routing::{Waiting, Withdrawal};

impl Dispatcher {
    /// Abandons waiting sessions whose visitor has had no connection for too long.
    pub(super) fn sweep_abandoned(&mut self, ctx: &mut Context<Self>) {
        if !self.leads() {
            return;
        }
        let limit = self.context.abandon_after;
        let clustered = self.context.cluster.is_clustered();
        let mut gone = Vec::new();
        let mut unsure = Vec::new();
        for waiting in self.queue.in_order() {
            let visitor = Peer::visitor(waiting.visitor_id.0);
            if self.context.connections.is_connected(visitor) {
                continue;
            }
            let away = self.last_seen(waiting).elapsed();
            if !clustered {
                if away >= limit {
                    gone.push(waiting.id);
                }
                continue;
            }
            let looked = self.presence_checks.get(&waiting.id);
            if away >= limit / 4 && looked.is_none_or(|at| at.elapsed() >= limit / 4) {
                unsure.push((waiting.id, visitor));
            }
        }
        for (session, visitor) in unsure {
            self.look_for(session, visitor, ctx);
        }
        for session in gone {
            self.abandon(session, ctx);
        }
    }

    /// When the visitor of `waiting` was last known connected, as far as this node knows.
    fn last_seen(&self, waiting: &Waiting) -> Instant {
        let visitor = Peer::visitor(waiting.visitor_id.0);
        self.context
            .connections
            .disconnected_since(visitor)
            .map_or(waiting.enqueued, |at| at.max(waiting.enqueued))
    }

    /// Asks the other nodes whether the visitor is connected to one of them.
    fn look_for(&mut self, session: SessionId, visitor: Peer, ctx: &mut Context<Self>) {
        self.presence_checks.insert(session, Instant::now());
        let connections = self.context.connections.clone();
        let seen = async move { connections.is_connected_anywhere(visitor).await };
        ctx.spawn(seen.into_actor(self).map(move |seen, this, ctx| {
            let Some(waiting) = this.queue.get(session) else {
                return;
            };
            let away = this.last_seen(waiting).elapsed();
            if seen {
                if let Some(waiting) = this.queue.get_mut(session) {
                    waiting.enqueued = Instant::now();
                }
            } else if away >= this.context.abandon_after {
                this.abandon(session, ctx);
            }
        }));
    }

    fn abandon(&mut self, session: SessionId, ctx: &mut Context<Self>) {
        self.withdraw_all(self.offers.of_session(session), Withdrawal::Abandoned, ctx);
        if let Some(waiting) = self.queue.remove(session) {
            self.context
                .connections
                .forget(Peer::visitor(waiting.visitor_id.0));
        }
        self.sessions.remove(&session);
        self.told.remove(&session);
        self.presence_checks.remove(&session);
        self.context.sessions.tell(session, Abandon);
        self.dispatch(ctx);
        self.changed(ctx);
    }
}
