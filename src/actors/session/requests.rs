//! The messages a session's actor handles for its participants (requests, tags,
//! archiving, presence, typing), and stopping when this node no longer serves the
//! session.

use std::time::Duration;

use actix::prelude::*;

use super::actor::{now, ChatSession};
use crate::actors::messages::session::{
    Command, ParticipantPresence, SetArchived, SetTags, StopSession,
};
use crate::conversation::Step;
use crate::protocol::objects::Participant;

impl Handler<Command> for ChatSession {
    type Result = ();

    fn handle(&mut self, msg: Command, ctx: &mut Context<Self>) {
        let Command {
            caller,
            name,
            reply,
            command,
        } = msg;
        let step = match self.available() {
            Ok(conversation) => conversation.handle(&caller, name, command, now()),
            Err(error) => Step::refuse(error),
        };
        self.perform(step, Some(reply), ctx);
    }
}

impl Handler<SetTags> for ChatSession {
    type Result = ();

    /// Tags are stored, then the in-memory view (which every later session object is
    /// built from) takes them, then every specialist connection in the session hears of
    /// it. Inside `ctx.wait`, so two changes cannot land in the opposite order.
    fn handle(&mut self, msg: SetTags, ctx: &mut Context<Self>) {
        let step = match self.available() {
            Ok(conversation) => conversation.tag(&msg.caller, msg.tags),
            Err(error) => Step::refuse(error),
        };
        self.perform(step, Some(msg.reply), ctx);
    }
}

impl Handler<SetArchived> for ChatSession {
    type Result = ();

    fn handle(&mut self, msg: SetArchived, ctx: &mut Context<Self>) {
        let step = match self.available() {
            Ok(conversation) => conversation.archive(&msg.caller, msg.archived, now()),
            Err(error) => Step::refuse(error),
        };
        self.perform(step, Some(msg.reply), ctx);
    }
}

impl Handler<ParticipantPresence> for ChatSession {
    type Result = ();

    fn handle(&mut self, msg: ParticipantPresence, ctx: &mut Context<Self>) {
        let effect = self
            .conversation
            .as_ref()
            .and_then(|c| c.presence(&msg.participant, msg.online));
        if let Some(effect) = effect {
            self.apply(vec![effect], None, ctx);
        }
    }
}

impl Handler<StopSession> for ChatSession {
    type Result = ();

    fn handle(&mut self, _: StopSession, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

/// How long a typing notice lasts without a repeat.
const TYPING_EXPIRES: Duration = Duration::from_secs(6);

impl ChatSession {
    /// Typing lasts until told otherwise or [`TYPING_EXPIRES`] passes.
    pub(super) fn typing(&mut self, from: Participant, is_typing: bool, ctx: &mut Context<Self>) {
        let Some(typist) = from.id else { return };
        if let Some(handle) = self.typing.remove(&typist) {
            ctx.cancel_future(handle);
        }
        self.tell_typing(&from, is_typing, ctx);
        if is_typing {
            let handle = ctx.run_later(TYPING_EXPIRES, move |this, ctx| {
                this.typing.remove(&typist);
                this.tell_typing(&from, false, ctx);
            });
            self.typing.insert(typist, handle);
        }
    }

    fn tell_typing(&mut self, from: &Participant, is_typing: bool, ctx: &mut Context<Self>) {
        if let Some(conversation) = self.conversation.as_ref() {
            let effect = conversation.typing(from, is_typing);
            self.apply(vec![effect], None, ctx);
        }
    }
}
