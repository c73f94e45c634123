//! What the dispatcher asks of a session: show an offer, take an assignment, give up on
//! a visitor who left the queue, or go back to the queue when the specialist is gone.

use std::time::Instant;

use actix::prelude::*;

use super::actor::{now, ChatSession};
use super::commit;
use crate::actors::messages::session::{Abandon, Assign, PresentOffer, ReturnToQueue};
use crate::actors::persistence::Transact;
use crate::conversation::{Effect, QueueNotice, Requeue, Settlement, Step};
use crate::error::Error;

impl Handler<PresentOffer> for ChatSession {
    type Result = ();

    fn handle(&mut self, offer: PresentOffer, ctx: &mut Context<Self>) {
        let Some(conversation) = self.conversation.as_ref() else {
            return;
        };
        let (peer, frame, change) =
            conversation.offer(offer.offer_id, offer.specialist, offer.expires_at);
        self.context()
            .connections
            .send_to(peer, &frame.to_text(), None);
        let id = self.id;
        let webhooks = self.context().webhooks.clone();
        let epoch = self.epoch;
        let work = Transact::new(move |conn| commit::commit(conn, &webhooks, &change, epoch));
        let recorded = self.context().persistence.transact(work);
        ctx.spawn(
            async move {
                if let Err(error) = recorded.await {
                    log::warn!("session {id}: offer not recorded: {}", error.message);
                }
            }
            .into_actor(self),
        );
    }
}

impl Handler<Assign> for ChatSession {
    type Result = ();

    fn handle(&mut self, assign: Assign, ctx: &mut Context<Self>) {
        self.last_activity = Instant::now();
        let requested = assign.reply.is_some();
        let step = match self.conversation.as_ref() {
            Some(conversation) => {
                conversation.assign(assign.specialist, assign.specialist_name, requested, now())
            }
            None => Step::Done(vec![
                Effect::Refuse(Error::conflict("the session is no longer waiting")),
                Effect::Queue(QueueNotice::Settled {
                    specialist: assign.specialist,
                    settlement: Settlement::NoLongerWaiting,
                }),
            ]),
        };
        self.perform(step, assign.reply, ctx);
    }
}

impl Handler<Abandon> for ChatSession {
    type Result = ();

    fn handle(&mut self, _: Abandon, ctx: &mut Context<Self>) {
        let Some(decision) = self.conversation.as_ref().and_then(|c| c.abandon(now())) else {
            return;
        };
        let id = self.id;
        self.commit(decision, None, ctx, move |result| match result {
            Ok(()) => log::info!("session {id} abandoned"),
            Err(error) => log::warn!("session {id}: abandonment not stored: {}", error.message),
        });
    }
}

impl Handler<ReturnToQueue> for ChatSession {
    type Result = ();

    fn handle(&mut self, msg: ReturnToQueue, ctx: &mut Context<Self>) {
        let why = Requeue::SpecialistGone(msg.specialist);
        if let Some(decision) = self
            .conversation
            .as_ref()
            .and_then(|c| c.requeue(why, now()))
        {
            self.commit(decision, None, ctx, |_| {});
        }
    }
}
