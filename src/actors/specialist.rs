//! Specialist: one actor per specialist with a console open. It owns their chosen status
//! and the lifecycle of their consoles: presence notices to visitors, and the grace
//! period after the last console closes, after which the specialist goes offline and the
//! dispatcher returns their chats to the queue. Routing load (open chats, pending offers)
//! lives in the dispatcher's roster, the one place routing decisions are made.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use bytes::Bytes;

use super::connections::Map;
use super::dispatcher::Dispatcher;
use super::messages::dispatcher::{OpenSessionsOf, SetAvailability, SpecialistGone, StatusOf};
use super::messages::session::ParticipantPresence;
use super::messages::specialist::{
    ConsoleConnected, ConsoleDisconnected, GetStatus, ProfileChanged, Republish, SetStatus,
    StatusChanged,
};
use super::session::Sessions;
use crate::cluster::Cluster;
use crate::domain::{ParticipantType, SpecialistId};
use crate::error::Error;
use crate::protocol::objects::Participant;
use crate::protocol::Frame;
use crate::routing::{SpecialistState, Status};

/// The running specialist actors by id, and what a new one is started with.
#[derive(Clone)]
pub struct Specialists(Arc<Directory>);

struct Directory {
    running: Map<SpecialistId, Addr<Specialist>>,
    dispatcher: Addr<Dispatcher>,
    sessions: Sessions,
    /// How long a specialist stays online without a console.
    grace: Duration,
    /// This node, which the dispatcher counts consoles by, and the others.
    cluster: Arc<Cluster>,
}

impl Specialists {
    pub fn new(
        dispatcher: Addr<Dispatcher>,
        sessions: Sessions,
        grace: Duration,
        cluster: Arc<Cluster>,
    ) -> Self {
        Specialists(Arc::new(Directory {
            running: Map::default(),
            dispatcher,
            sessions,
            grace,
            cluster,
        }))
    }

    /// The specialist chose `status` on another node.
    pub fn status_changed(&self, id: SpecialistId, status: Status) {
        if let Some(specialist) = self.get(id) {
            specialist.do_send(StatusChanged(status));
        }
    }

    /// Has every specialist with a console here tell the dispatcher again (a new
    /// dispatcher knows nobody).
    pub fn republish_all(&self) {
        for specialist in self.0.running.iter() {
            specialist.do_send(Republish);
        }
    }

    /// The specialist's actor, started with `profile` if it is not running.
    pub fn get_or_start(&self, profile: SpecialistState) -> Addr<Specialist> {
        self.0
            .running
            .entry(profile.id)
            .or_insert_with(|| {
                Specialist {
                    specialists: self.clone(),
                    profile,
                    status: Status::Offline,
                    consoles: 0,
                    grace: None,
                }
                .start()
            })
            .clone()
    }

    /// The specialist's actor, if they have one running.
    pub fn get(&self, id: SpecialistId) -> Option<Addr<Specialist>> {
        self.0.running.get(&id).map(|addr| addr.clone())
    }
}

pub struct Specialist {
    specialists: Specialists,
    profile: SpecialistState,
    status: Status,
    consoles: usize,
    grace: Option<SpawnHandle>,
}

impl Specialist {
    fn id(&self) -> SpecialistId {
        self.profile.id
    }

    fn node(&self) -> String {
        self.specialists.0.cluster.node_id.to_string()
    }

    fn dispatcher(&self) -> &Addr<Dispatcher> {
        &self.specialists.0.dispatcher
    }

    fn publish(&self) {
        self.dispatcher().do_send(SetAvailability {
            profile: self.profile.clone(),
            status: self.status,
            node: self.node(),
        });
    }

    /// Tells the visitors of the specialist's open chats that the console came or went.
    fn announce(&self, online: bool, ctx: &mut Context<Self>) {
        let participant = Participant {
            kind: ParticipantType::Specialist,
            id: Some(self.id().0),
            name: None,
        };
        let sessions = self.specialists.0.sessions.clone();
        let open = self.dispatcher().send(OpenSessionsOf(self.id()));
        ctx.spawn(
            async move {
                let open = open.await.map_err(Error::internal).and_then(|open| open);
                for session in open.unwrap_or_default() {
                    sessions.tell(
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

    /// Starts from the status the specialist has (at a console on another node, or
    /// before a restart of this one's actor): nothing is handled until it is known.
    fn started(&mut self, ctx: &mut Context<Self>) {
        let known = self.dispatcher().send(StatusOf(self.id()));
        ctx.wait(known.into_actor(self).map(|known, this, _| {
            if let Ok(Ok(Some(status))) = known {
                this.status = status;
            }
        }));
    }

    fn stopping(&mut self, ctx: &mut Context<Self>) -> Running {
        let id = self.id();
        let me = ctx.address();
        self.specialists
            .0
            .running
            .remove_if(&id, |_, addr| *addr == me);
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
        let grace = self.specialists.0.grace;
        self.grace = Some(ctx.run_later(grace, |this, ctx| {
            log::info!(
                "specialist {}: no console for the grace period, going offline",
                this.id()
            );
            this.status = Status::Offline;
            this.dispatcher().do_send(SpecialistGone {
                id: this.id(),
                node: Some(this.node()),
            });
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
        let status = serde_json::to_vec(&self.status).expect("a status serializes");
        let cluster = &self.specialists.0.cluster;
        cluster.publish(status_subject(self.id()), Bytes::from(status));
        let status = self.status;
        msg.reply
            .frame(|reference| Frame::Status { reference, status });
    }
}

impl Handler<ProfileChanged> for Specialist {
    type Result = ();

    fn handle(&mut self, ProfileChanged(profile): ProfileChanged, _: &mut Context<Self>) {
        self.profile = profile;
        self.publish();
    }
}

impl Handler<GetStatus> for Specialist {
    type Result = MessageResult<GetStatus>;

    fn handle(&mut self, _: GetStatus, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.status)
    }
}

impl Handler<Republish> for Specialist {
    type Result = ();

    fn handle(&mut self, _: Republish, _: &mut Context<Self>) {
        self.publish();
    }
}

impl Handler<StatusChanged> for Specialist {
    type Result = ();

    fn handle(&mut self, StatusChanged(status): StatusChanged, _: &mut Context<Self>) {
        self.status = status;
    }
}

/// Where a specialist's chosen status goes to their actors on the other nodes.
fn status_subject(id: SpecialistId) -> String {
    format!("{STATUS_SUBJECTS}{}", id.0.simple())
}

/// What every node listens to for specialists' status changes: the id follows.
pub const STATUS_SUBJECTS: &str = "sb.status.";
