//! What a decision may wait for before it is committed: the dispatcher's word on a
//! transfer's target, the database's on a resend key no longer in memory, and whether the
//! visitor of a left message is connected anywhere, for a reply that is mailed otherwise.
//! Each runs inside `ctx.wait`, like the commit it leads to, so only this session waits.

use actix::prelude::*;
use uuid::Uuid;

use super::actor::ChatSession;
use crate::actors::messages::dispatcher::CheckTransferTarget;
use crate::actors::reply::Reply;
use crate::conversation::{Decision, Effect, Query, Step};
use crate::db;
use crate::domain::{Peer, SpecialistId};
use crate::error::Error;

impl ChatSession {
    /// A reply to a visitor who left a message is mailed only when they have no
    /// connection on any node. Inside `ctx.wait`, like the commit it leads to; only this
    /// session waits for the answer.
    pub(super) fn unless_visitor_here(
        &mut self,
        mut step: Step,
        reply: Option<Reply>,
        ctx: &mut Context<Self>,
    ) {
        let Some(visitor) = self.conversation.as_ref().map(|c| c.row().visitor_id) else {
            return;
        };
        let connections = self.context().connections.clone();
        let peer = Peer::visitor(visitor.0);
        let here = async move { connections.is_connected_anywhere(peer).await };
        ctx.wait(here.into_actor(self).map(move |here, this, ctx| {
            if here {
                if let Step::Commit(decision) | Step::CheckKey { decision, .. } = &mut step {
                    decision.change.mail = None;
                }
            }
            this.perform(step, reply, ctx);
        }));
    }

    /// A transfer to a named colleague: the dispatcher says whether they can take it.
    pub(super) fn check_target(
        &mut self,
        target: SpecialistId,
        decision: Decision,
        reply: Option<Reply>,
        ctx: &mut Context<Self>,
    ) {
        let check = self
            .context()
            .dispatcher
            .check_transfer
            .send(CheckTransferTarget(target));
        ctx.wait(check.into_actor(self).map(move |checked, this, ctx| {
            match checked.unwrap_or_else(|e| Err(Error::internal(e))) {
                Ok(()) => this.commit(decision, reply, ctx, |_| {}),
                Err(error) => this.apply(vec![Effect::Refuse(error)], reply, ctx),
            }
        }));
    }

    /// A resend key older than those in memory: the original's ack if the database has
    /// it, else the new message. Inside `ctx.wait`, like the commit it may lead to.
    pub(super) fn check_key(
        &mut self,
        sender: Uuid,
        key: String,
        decision: Decision,
        reply: Option<Reply>,
        ctx: &mut Context<Self>,
    ) {
        let id = self.id;
        let db = self.context().db.clone();
        let lookup = async move {
            db.run(move |conn| Ok(db::messages::seq_of_key(conn, id, sender, &key)?))
                .await
        };
        ctx.wait(
            lookup
                .into_actor(self)
                .map(move |found, this, ctx| match found {
                    Ok(Some(seq)) => this.read(Query::Resent { seq }, reply, ctx),
                    Ok(None) => this.commit(decision, reply, ctx, |_| {}),
                    Err(error) => this.apply(vec![Effect::Refuse(error)], reply, ctx),
                }),
        );
    }
}
