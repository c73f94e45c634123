//! Specialist: one actor per specialist with a console open. It owns their chosen status
//! and the lifecycle of their consoles: presence notices to visitors, and the grace
//! period after the last console closes, after which the specialist goes offline and the
//! dispatcher returns their chats to the queue. Routing load (open chats, pending offers)
//! lives in the dispatcher's roster, the one place routing decisions are made.

use actix::prelude::*;

use super::dispatcher::{OpenSessionsOf, SetAvailability, SpecialistGone};
use super::reply::Reply;
use super::session::{ChatSession, ParticipantPresence};
use crate::domain::{ParticipantType, SpecialistId};
use crate::protocol::objects::Participant;
use crate::protocol::Frame;
use crate::routing::{SpecialistState, Status};
use crate::state::AppState;

/// A console connected; answers the specialist's current status.
#[derive(Message)]
#[rtype(result = "Status")]
pub struct ConsoleConnected;

#[derive(Message)]
#[rtype(result = "()")]
pub struct ConsoleDisconnected;

#[derive(Message)]
#[rtype(result = "()")]
pub struct SetStatus {
    pub status: Status,
    pub reply: Reply,
}

/// An admin changed the specialist's skills, languages or capacity.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ProfileChanged(pub SpecialistState);

pub struct Specialist {
    state: AppState,
    profile: SpecialistState,
    status: Status,
    consoles: usize,
    grace: Option<SpawnHandle>,
}

impl Specialist {
    /// The specialist's actor, started with `profile` if it is not running.
    pub fn get(state: &AppState, profile: SpecialistState) -> Addr<Specialist> {
        state
            .registry
            .specialists()
            .entry(profile.id)
            .or_insert_with(|| {
                Specialist {
                    state: state.clone(),
                    profile,
                    status: Status::Offline,
                    consoles: 0,
                    grace: None,
                }
                .start()
            })
            .clone()
    }

    fn id(&self) -> SpecialistId {
        self.profile.id
    }

    fn publish(&self) {
        self.state.dispatcher.do_send(SetAvailability {
            profile: self.profile.clone(),
            status: self.status,
        });
    }

    /// Tells the visitors of the specialist's open chats that the console came or went.
    fn announce(&self, online: bool, ctx: &mut Context<Self>) {
        let participant = Participant {
            kind: ParticipantType::Specialist,
            id: Some(self.id().0),
            name: None,
        };
        let state = self.state.clone();
        let sessions = self.state.dispatcher.send(OpenSessionsOf(self.id()));
        ctx.spawn(
            async move {
                for session in sessions.await.unwrap_or_default() {
                    ChatSession::tell(
                        &state,
                        session,
                        ParticipantPresence {
                            participant: participant.clone(),
                            online,
                        },
                    );
                }
            }
            .into_actor(self),
        );
    }
}

impl Actor for Specialist {
    type Context = Context<Self>;

    fn stopping(&mut self, ctx: &mut Context<Self>) -> Running {
        let id = self.id();
        self.state
            .registry
            .specialists()
            .remove_if(&id, |_, addr| *addr == ctx.address());
        Running::Stop
    }
}

impl Handler<ConsoleConnected> for Specialist {
    type Result = MessageResult<ConsoleConnected>;

    fn handle(&mut self, _: ConsoleConnected, ctx: &mut Context<Self>) -> Self::Result {
        if let Some(grace) = self.grace.take() {
            ctx.cancel_future(grace);
        }
        self.consoles += 1;
        if self.consoles == 1 {
            self.publish();
            self.announce(true, ctx);
        }
        MessageResult(self.status)
    }
}

impl Handler<ConsoleDisconnected> for Specialist {
    type Result = ();

    fn handle(&mut self, _: ConsoleDisconnected, ctx: &mut Context<Self>) {
        self.consoles = self.consoles.saturating_sub(1);
        if self.consoles > 0 {
            return;
        }
        self.announce(false, ctx);
        let grace = self.state.config.specialist_grace();
        self.grace = Some(ctx.run_later(grace, |this, ctx| {
            log::info!(
                "specialist {}: no console for the grace period, going offline",
                this.id()
            );
            this.status = Status::Offline;
            this.state.dispatcher.do_send(SpecialistGone(this.id()));
            ctx.stop();
        }));
    }
}

impl Handler<SetStatus> for Specialist {
    type Result = ();

    fn handle(&mut self, msg: SetStatus, _: &mut Context<Self>) {
        self.status = msg.status;
        log::info!("specialist {} is {:?}", self.id(), self.status);
        self.publish();
        let reference = msg.reply.reference();
        msg.reply.ok(Frame::Status {
            reference,
            status: self.status,
        });
    }
}

impl Handler<ProfileChanged> for Specialist {
    type Result = ();

    fn handle(&mut self, ProfileChanged(profile): ProfileChanged, _: &mut Context<Self>) {
        self.profile = profile;
        self.publish();
    }
}

/// The specialist's current status, for a console's `hello`.
#[derive(Message)]
#[rtype(result = "Status")]
pub struct GetStatus;

impl Handler<GetStatus> for Specialist {
    type Result = MessageResult<GetStatus>;

    fn handle(&mut self, _: GetStatus, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.status)
    }
}
