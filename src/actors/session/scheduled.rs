//! Delivering a due scheduled message: the session reads its row (and whether its file
//! can still be sent), and the conversation decides whether it is sent or cancelled.

use std::time::Instant;

use actix::prelude::*;

use super::actor::{now, ChatSession};
use super::commit;
use crate::actors::messages::session::DeliverScheduled;
use crate::conversation::{FileToSend, Then};
use crate::db;

impl ChatSession {
    /// A due scheduled message: read its row (and whether its file can still be sent),
    /// then send or cancel it as the conversation decides.
    fn deliver_scheduled(&mut self, msg: DeliverScheduled, ctx: &mut Context<Self>) {
        let DeliverScheduled {
            id: scheduled,
            done,
        } = msg;
        let session = self.id;
        let db = self.context().db.clone();
        let lookup = async move {
            db.run(move |conn| {
                let Some(pending) = db::scheduled_messages::find(conn, scheduled)? else {
                    return Ok(None);
                };
                let sendable = match pending.attachment_id {
                    Some(attachment) => {
                        let uploader = Some(pending.specialist_id.0);
                        let file = FileToSend {
                            attachment,
                            uploader,
                        };
                        match commit::file_to_send(conn, session, file) {
                            Err(error) if error.is_refusal() => false,
                            checked => checked.map(|_| true)?,
                        }
                    }
                    None => true,
                };
                Ok(Some((pending, sendable)))
            })
            .await
        };
        ctx.wait(lookup.into_actor(self).map(move |result, this, ctx| {
            let found = match result {
                Ok(found) => found,
                Err(error) => {
                    log::warn!("session {session}: scheduled {scheduled} not read: {error}");
                    let _ = done.send(false);
                    return;
                }
            };
            let decision = found.zip(this.conversation.as_ref()).and_then(
                |((pending, sendable), conversation)| {
                    conversation.deliver_scheduled(pending, sendable, now())
                },
            );
            let Some(decision) = decision else {
                let _ = done.send(true);
                return;
            };
            let cancelled = matches!(decision.then, Then::ScheduledCancelled(_));
            this.commit(decision, None, ctx, move |result| {
                match result {
                    Ok(()) if cancelled => log::info!(
                        "session {session}: scheduled message {scheduled} cancelled, \
                         the session is no longer its specialist's"
                    ),
                    Ok(()) => log::debug!("session {session}: scheduled message {scheduled} sent"),
                    Err(error) => log::warn!(
                        "session {session}: scheduled message {scheduled} not sent: {}",
                        error.message
                    ),
                }
                let _ = done.send(result.is_ok());
            });
        }));
    }
}

impl Handler<DeliverScheduled> for ChatSession {
    type Result = ();

    fn handle(&mut self, msg: DeliverScheduled, ctx: &mut Context<Self>) {
        self.last_activity = Instant::now();
        if !self.loaded {
            // Dropping `done` has the scheduler try again.
            return;
        }
        self.deliver_scheduled(msg, ctx);
    }
}
