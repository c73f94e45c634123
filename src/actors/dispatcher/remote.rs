//! One dispatcher for the whole cluster (SPEC section 13). Every node runs a
//! `Dispatcher` actor, but only the one on the node holding the dispatcher's role in
//! Postgres routes; the others forward what they are told to it over NATS, on the one
//! subject its node serves, and give its answers to their askers. Nothing comes back
//! the other way: offers, assignments and queue updates go to sessions and to peers,
//! which reach every node already.
//!
//! A node taking the role starts from what Postgres holds (the waiting sessions, each
//! specialist's chats) and asks every node to say again who has consoles there. A
//! message that finds no dispatcher (the role changing hands) is sent again until a
//! lease has passed; one already in the database when the new dispatcher loaded it is
//! harmless twice. The transaction that assigns checks capacity again, so a dispatcher
//! that has not yet noticed it lost the role cannot overfill a specialist.

use std::future::Future;
use std::time::{Duration, Instant};

use actix::prelude::*;
use bytes::Bytes;
use bytestring::ByteString;

use super::actor::Dispatcher;
use super::wire::{Ask, Asker, FromDispatcher, Tell, ToDispatcher};
use crate::actors::connections::ConnectionHandle;
use crate::actors::messages::dispatcher::{
    AcceptOffer, DeclineOffer, Follow, Lead, NodesAlive, Pickup, Restored, SnapshotArrived,
    SpecialistGone,
};
use crate::actors::reply::Reply;
use crate::cluster::{Cluster, Unanswered};
use crate::domain::SpecialistId;
use crate::error::{Error, Result};
use crate::protocol::Frame;

/// What the dispatcher's node serves.
const SUBJECT: &str = "sb.dispatcher";
/// Queue snapshots for the consoles watching the queue on every node.
pub const SNAPSHOTS: &str = "sb.dispatcher.snapshot";
/// A new dispatcher asking every node which specialists have consoles there.
pub const HELLO: &str = "sb.dispatcher.hello";

/// How long a message looks for a dispatcher past the lease, and how often.
const PATIENCE: Duration = Duration::from_secs(5);
const RETRY: Duration = Duration::from_millis(200);

/// A message for the dispatcher from another node, or to be sent again from here.
#[derive(Message)]
#[rtype(result = "Result<FromDispatcher>")]
struct Incoming(ToDispatcher);

impl Dispatcher {
    /// Whether the dispatcher runs here; when not, messages go to the node where it does.
    pub(super) fn leads(&self) -> bool {
        self.context.cluster.leads()
    }

    /// The dispatcher's answer to `msg`, from the node running it, or from this one
    /// should the role come here while a dispatcher is looked for.
    pub(super) fn forward(
        &self,
        msg: ToDispatcher,
        ctx: &Context<Self>,
    ) -> impl Future<Output = Result<FromDispatcher>> + 'static {
        let cluster = self.context.cluster.clone();
        let here = ctx.address();
        async move {
            let payload = Bytes::from(serde_json::to_vec(&msg).expect("a message serializes"));
            let deadline = Instant::now() + cluster.lease + PATIENCE;
            loop {
                if cluster.leads() {
                    return here.send(Incoming(msg)).await.map_err(Error::internal)?;
                }
                let patience = cluster.lease + PATIENCE;
                match cluster
                    .request(SUBJECT.into(), payload.clone(), patience)
                    .await
                {
                    Ok(bytes) => {
                        let answer = serde_json::from_slice::<Result<FromDispatcher>>(&bytes);
                        return answer.map_err(Error::internal)?;
                    }
                    Err(Unanswered::Failed) => {
                        return Err(Error::internal("the dispatcher did not answer"));
                    }
                    Err(Unanswered::NoResponder) if Instant::now() > deadline => {
                        return Err(Error::internal("no node runs the dispatcher"));
                    }
                    Err(Unanswered::NoResponder) => actix_web::rt::time::sleep(RETRY).await,
                }
            }
        }
    }

    /// Forwards `msg`, which needs no answer. Messages from one node are sent in the
    /// order they came: each is published before the next is handled.
    pub(super) fn tell_leader(&self, msg: Tell, ctx: &Context<Self>) {
        let sent = self.forward(ToDispatcher::Tell(msg), ctx);
        actix::spawn(async move {
            if let Err(error) = sent.await {
                log::warn!("a message to the dispatcher was lost: {}", error.message);
            }
        });
    }

    /// Forwards a WebSocket request and gives its reply frame to `reply`.
    fn relay(&self, msg: impl FnOnce(Asker) -> Ask, reply: Reply, ctx: &Context<Self>) {
        let asked = self.forward(ToDispatcher::Ask(msg(Asker::of(&reply))), ctx);
        actix::spawn(async move {
            match asked.await {
                Ok(FromDispatcher::Frame(Some(text))) => reply.relayed(ByteString::from(text)),
                Ok(_) => {}
                Err(error) => reply.err(error),
            }
        });
    }

    pub(super) fn relay_accept(&self, msg: AcceptOffer, ctx: &Context<Self>) {
        let (offer_id, specialist) = (msg.offer_id, msg.specialist);
        let to = |asker| Ask::AcceptOffer {
            offer_id,
            specialist,
            asker,
        };
        self.relay(to, msg.reply, ctx);
    }

    pub(super) fn relay_decline(&self, msg: DeclineOffer, ctx: &Context<Self>) {
        let (offer_id, specialist) = (msg.offer_id, msg.specialist);
        let to = |asker| Ask::DeclineOffer {
            offer_id,
            specialist,
            asker,
        };
        self.relay(to, msg.reply, ctx);
    }

    pub(super) fn relay_pickup(&self, msg: Pickup, ctx: &Context<Self>) {
        let (session, specialist, name) = (msg.session, msg.specialist, msg.name);
        let to = |asker| Ask::Pickup {
            session,
            specialist,
            name,
            asker,
        };
        self.relay(to, msg.reply, ctx);
    }

    /// The dispatcher's answer to a question, read out of its wire form by `read`.
    pub(super) fn ask_leader<T: 'static>(
        &self,
        msg: Ask,
        ctx: &Context<Self>,
        read: fn(FromDispatcher) -> Option<T>,
    ) -> ResponseFuture<Result<T>> {
        let asked = self.forward(ToDispatcher::Ask(msg), ctx);
        Box::pin(async move {
            read(asked.await?).ok_or_else(|| Error::internal("the dispatcher answered amiss"))
        })
    }

    /// Sends a console that starts watching the queue on this node the snapshot.
    pub(super) fn snapshot_from_leader(
        &self,
        connection: ConnectionHandle,
        reference: Option<String>,
        ctx: &Context<Self>,
    ) {
        let msg = ToDispatcher::Ask(Ask::Snapshot {
            reference: reference.clone(),
        });
        let asked = self.forward(msg, ctx);
        actix::spawn(async move {
            match asked.await {
                Ok(FromDispatcher::Frame(Some(text))) => connection.send(ByteString::from(text)),
                Ok(_) => {}
                Err(error) => connection.send_frame(&Frame::error(reference, &error)),
            }
        });
    }

    /// Ends the pending offers' timers: a dispatcher starting over has no offers.
    fn cancel_offers(&mut self, ctx: &mut Context<Self>) {
        for (_, timer) in self.timers.drain() {
            ctx.cancel_future(timer);
        }
    }

    /// Settles whether `node` held the specialist's last console; `None` means every
    /// node (the specialist was disabled).
    pub(super) fn last_console_gone(&mut self, id: SpecialistId, node: Option<String>) -> bool {
        let Some(nodes) = self.consoles.get_mut(&id) else {
            return true;
        };
        match node {
            Some(node) => {
                nodes.remove(&node);
            }
            None => nodes.clear(),
        }
        let last = nodes.is_empty();
        if last {
            self.consoles.remove(&id);
        }
        last
    }
}

/// Serves the dispatcher to the other nodes, until the returned task is aborted.
pub async fn serve(
    cluster: &Cluster,
    dispatcher: Addr<Dispatcher>,
) -> Result<tokio::task::JoinHandle<()>> {
    cluster
        .serve(SUBJECT.into(), move |payload| {
            // Sent to the mailbox now, not when the task first runs: one node's
            // messages are handled in the order they came.
            let answered = match serde_json::from_slice::<ToDispatcher>(&payload) {
                Ok(msg) => Some(dispatcher.send(Incoming(msg))),
                Err(error) => {
                    log::warn!("an unreadable message for the dispatcher: {error}");
                    None
                }
            };
            async move {
                let answer = match answered {
                    Some(answered) => answered.await.unwrap_or_else(|e| Err(Error::internal(e))),
                    None => Err(Error::bad_request("unreadable")),
                };
                Bytes::from(serde_json::to_vec(&answer).expect("an answer serializes"))
            }
        })
        .await
}

impl Handler<Incoming> for Dispatcher {
    type Result = ResponseFuture<Result<FromDispatcher>>;

    fn handle(&mut self, Incoming(msg): Incoming, ctx: &mut Context<Self>) -> Self::Result {
        if !self.leads() {
            return Box::pin(self.forward(msg, ctx));
        }
        match msg {
            ToDispatcher::Tell(told) => {
                self.told(told, ctx);
                Box::pin(std::future::ready(Ok(FromDispatcher::Done)))
            }
            ToDispatcher::Ask(asked) => self.asked(asked, ctx),
        }
    }
}

impl Dispatcher {
    fn told(&mut self, msg: Tell, ctx: &mut Context<Self>) {
        match msg {
            Tell::Enqueue(m) => self.handle(*m, ctx),
            Tell::TellPosition(m) => self.handle(m, ctx),
            Tell::SetAvailability(m) => self.handle(m, ctx),
            Tell::SpecialistGone(m) => self.handle(m, ctx),
            Tell::AssignmentSettled(m) => self.handle(m, ctx),
            Tell::SessionClosed(m) => self.handle(m, ctx),
            Tell::SessionReturned(m) => self.handle(m, ctx),
        }
    }

    fn asked(
        &mut self,
        msg: Ask,
        ctx: &mut Context<Self>,
    ) -> ResponseFuture<Result<FromDispatcher>> {
        match msg {
            Ask::AcceptOffer {
                offer_id,
                specialist,
                asker,
            } => relayed(asker, |reply| {
                let accept = AcceptOffer {
                    offer_id,
                    specialist,
                    reply,
                };
                self.handle(accept, ctx)
            }),
            Ask::DeclineOffer {
                offer_id,
                specialist,
                asker,
            } => relayed(asker, |reply| {
                let decline = DeclineOffer {
                    offer_id,
                    specialist,
                    reply,
                };
                self.handle(decline, ctx)
            }),
            Ask::Pickup {
                session,
                specialist,
                name,
                asker,
            } => relayed(asker, |reply| {
                let pickup = Pickup {
                    session,
                    specialist,
                    name,
                    reply,
                };
                self.handle(pickup, ctx)
            }),
            Ask::CheckTransferTarget(m) => {
                let checked = self.handle(m, ctx);
                Box::pin(async move { Ok(FromDispatcher::Checked(checked.await)) })
            }
            Ask::OpenSessionsOf(m) => {
                let open = self.handle(m, ctx);
                Box::pin(async move { open.await.map(FromDispatcher::Open) })
            }
            Ask::StatusOf(m) => {
                let status = self.handle(m, ctx);
                Box::pin(async move { status.await.map(FromDispatcher::Status) })
            }
            Ask::GetQueue(m) => {
                let queue = self.handle(m, ctx);
                Box::pin(async move { queue.await.map(FromDispatcher::Queue) })
            }
            Ask::CountSpecialists(m) => {
                let counts = self.handle(m, ctx);
                Box::pin(async move { counts.await.map(FromDispatcher::Counts) })
            }
            Ask::CheckAvailability(m) => {
                let availability = self.handle(m, ctx);
                Box::pin(async move { availability.await.map(FromDispatcher::Availability) })
            }
            Ask::Snapshot { reference } => {
                let frame = self.snapshot(reference).to_text().to_string();
                Box::pin(std::future::ready(Ok(FromDispatcher::Frame(Some(frame)))))
            }
        }
    }
}

/// Hands a forwarded WebSocket request to `handle` with a reply whose frame goes back.
fn relayed(asker: Asker, handle: impl FnOnce(Reply)) -> ResponseFuture<Result<FromDispatcher>> {
    let (reply, frame) = Reply::relay(asker.reference, asker.origin);
    handle(reply);
    Box::pin(async move { Ok(FromDispatcher::Frame(frame.await.ok().map(String::from))) })
}

impl Handler<Lead> for Dispatcher {
    type Result = ();

    fn handle(&mut self, Lead(restored): Lead, ctx: &mut Context<Self>) {
        self.cancel_offers(ctx);
        self.restore(restored);
        self.context.cluster.set_leading(true);
        log::info!("this node runs the dispatcher");
        self.dispatch(ctx);
    }
}

impl Handler<Follow> for Dispatcher {
    type Result = ();

    fn handle(&mut self, _: Follow, ctx: &mut Context<Self>) {
        if !self.leads() {
            return;
        }
        self.context.cluster.set_leading(false);
        self.cancel_offers(ctx);
        self.restore(Restored::default());
        log::info!("another node runs the dispatcher");
    }
}

impl Handler<NodesAlive> for Dispatcher {
    type Result = ();

    fn handle(&mut self, NodesAlive(alive): NodesAlive, ctx: &mut Context<Self>) {
        if !self.leads() {
            return;
        }
        let mut gone = Vec::new();
        for (id, nodes) in &mut self.consoles {
            nodes.retain(|node| alive.contains(node));
            if nodes.is_empty() {
                gone.push(*id);
            }
        }
        for id in gone {
            log::info!("specialist {id}: their consoles' nodes are gone");
            self.handle(SpecialistGone { id, node: None }, ctx);
        }
    }
}

impl Handler<SnapshotArrived> for Dispatcher {
    type Result = ();

    fn handle(&mut self, SnapshotArrived(text): SnapshotArrived, _: &mut Context<Self>) {
        if self.leads() {
            return;
        }
        for watcher in &self.watchers {
            watcher.send(text.clone());
        }
    }
}
