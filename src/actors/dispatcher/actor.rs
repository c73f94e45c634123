//! The Dispatcher: the queue. It owns the waiting sessions in order and the routing view
//! of every specialist (status, skills, load), picks who gets offered what with the rules
//! in `routing`, runs offers and their timeouts, tells visitors their position and
//! expected wait, and rebuilds itself from the database at start.
//!
//! It never waits for another actor: it decides, sends, and learns the outcome from a
//! later message (`AssignmentSettled`), so it stays responsive with a long queue.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use chrono::Utc;
use uuid::Uuid;

use super::wire::{Ask, FromDispatcher, Tell};
use crate::actors::connections::{ConnectionHandle, Connections, Peer};
use crate::actors::messages::dispatcher::{
    AcceptOffer, AssignmentSettled, CheckTransferTarget, DeclineOffer, DispatcherInbox, Enqueue,
    OpenSessionsOf, Pickup, Restored, SessionClosed, SessionReturned, SetAvailability,
    SpecialistGone, StatusOf,
};
use crate::actors::messages::session::{Assign, Command, PresentOffer, ReturnToQueue};
use crate::actors::persistence::{Persistence, Transact};
use crate::actors::reply::Reply;
use crate::actors::session::Sessions;
use crate::auth::Caller;
use crate::cluster::Cluster;
use crate::conversation::{SessionCommand, Settlement};
use crate::db;
use crate::domain::{ParticipantType, SessionEvent, SessionId, SessionStatus, SpecialistId};
use crate::error::{Error, Result};
use crate::protocol::objects::{Audience, Session};
use crate::protocol::Frame;
use crate::routing::{self, Offers, Queue, Roster, Status, WaitEstimator, Waiting, Withdrawal};

/// What a waiting visitor was last told: (position, estimate, specialists online).
pub(super) type Told = (usize, Option<u64>, usize);

const SNAPSHOT_EVERY: Duration = Duration::from_secs(1);
const SWEEP_EVERY: Duration = Duration::from_millis(500);
const FORGET_EVERY: Duration = Duration::from_secs(60);

/// What the dispatcher works with and the settings it routes by.
pub struct DispatcherContext {
    pub cluster: Arc<Cluster>,
    pub connections: Arc<Connections>,
    pub persistence: Persistence,
    pub sessions: Sessions,
    pub auto_accept: bool,
    pub offer_timeout: Duration,
    pub abandon_after: Duration,
    /// Most waiting sessions one listing shows.
    pub queue_list_max: usize,
}

pub struct Dispatcher {
    pub(super) context: DispatcherContext,
    pub(super) queue: Queue,
    pub(super) roster: Roster,
    /// The nodes each specialist has consoles on: online until the last is gone.
    pub(super) consoles: HashMap<SpecialistId, HashSet<String>>,
    /// Staff views of the waiting sessions, for snapshots.
    pub(super) sessions: HashMap<SessionId, Session>,
    pub(super) offers: Offers,
    /// The expiry timer of each pending offer.
    pub(super) timers: HashMap<Uuid, SpawnHandle>,
    /// Sessions between an accepted offer and its committed assignment.
    pub(super) assigning: HashMap<SessionId, Waiting>,
    pub(super) estimator: WaitEstimator,
    /// What each waiting visitor was last told: (position, estimate, online).
    pub(super) told: HashMap<SessionId, Told>,
    /// When each waiting visitor not connected here was last looked for on other nodes.
    pub(super) presence_checks: HashMap<SessionId, Instant>,
    pub(super) update_scheduled: bool,
    pub(super) watchers: Vec<ConnectionHandle>,
    pub(super) snapshot_dirty: bool,
}

impl Dispatcher {
    /// A dispatcher that starts from what the database holds: the waiting sessions back
    /// in the queue, specialists' active chats counted against their capacity.
    pub fn new(context: DispatcherContext, restored: Restored) -> Self {
        let mut this = Self {
            context,
            queue: Queue::default(),
            roster: Roster::default(),
            consoles: HashMap::new(),
            sessions: HashMap::new(),
            offers: Offers::default(),
            timers: HashMap::new(),
            assigning: HashMap::new(),
            estimator: WaitEstimator::default(),
            told: HashMap::new(),
            presence_checks: HashMap::new(),
            update_scheduled: false,
            watchers: Vec::new(),
            snapshot_dirty: false,
        };
        this.restore(restored);
        this
    }

    /// Forgets the queue and the roster and starts again from `restored`.
    pub(super) fn restore(&mut self, restored: Restored) {
        self.queue = Queue::default();
        self.roster = Roster::default();
        self.consoles.clear();
        self.sessions.clear();
        self.offers = Offers::default();
        self.timers.clear();
        self.assigning.clear();
        self.told.clear();
        self.presence_checks.clear();
        self.estimator = WaitEstimator::seeded(restored.averages.0, restored.averages.1);
        let mut waiting = 0;
        for view in restored.open {
            match (view.row.status, view.row.specialist_id) {
                (SessionStatus::Active, Some(specialist)) => {
                    self.roster.assign(specialist, view.row.id)
                }
                _ => {
                    waiting += 1;
                    self.sessions
                        .insert(view.row.id, Session::for_audience(&view, Audience::Staff));
                    self.queue.push(Waiting::of(&view.row));
                }
            }
        }
        self.snapshot_dirty = true;
        log::info!("dispatcher restored {waiting} waiting sessions");
    }

    /// The inbox sessions reach the dispatcher through.
    pub fn inbox(address: &Addr<Dispatcher>) -> DispatcherInbox {
        DispatcherInbox {
            enqueue: address.clone().recipient(),
            tell_position: address.clone().recipient(),
            settled: address.clone().recipient(),
            closed: address.clone().recipient(),
            returned: address.clone().recipient(),
            check_transfer: address.clone().recipient(),
        }
    }

    /// Offers (or, with auto-accept, assigns) whatever can be routed now.
    pub(super) fn dispatch(&mut self, ctx: &mut Context<Self>) {
        for (session, specialist) in routing::plan_offers(&self.queue, &mut self.roster) {
            if self.context.auto_accept {
                self.roster.release(specialist);
                self.assign(session, specialist, None);
            } else {
                self.offer(session, specialist, ctx);
            }
        }
        self.changed(ctx);
    }

    fn offer(&mut self, session: SessionId, specialist: SpecialistId, ctx: &mut Context<Self>) {
        let timeout = self.context.offer_timeout;
        let expires_at = Utc::now() + chrono::Duration::from_std(timeout).unwrap_or_default();
        if let Some(waiting) = self.queue.get_mut(session) {
            waiting.offered_to = Some(specialist);
        }
        let offer_id = self.offers.open(session, specialist);
        let timer = ctx.run_later(timeout, move |this, ctx| {
            this.withdraw(offer_id, Withdrawal::Expired, ctx)
        });
        self.timers.insert(offer_id, timer);
        log::debug!("session {session}: offered to {specialist} ({offer_id})");
        self.context.sessions.tell(
            session,
            PresentOffer {
                offer_id,
                specialist,
                expires_at,
            },
        );
    }

    /// Removes a pending offer and its timer, freeing the slot it held.
    fn close_offer(&mut self, offer_id: Uuid, ctx: &mut Context<Self>) -> Option<routing::Offer> {
        let offer = self.offers.remove(offer_id)?;
        if let Some(timer) = self.timers.remove(&offer_id) {
            ctx.cancel_future(timer);
        }
        self.roster.release(offer.specialist);
        Some(offer)
    }

    /// Ends a pending offer without an assignment, and offers what can be offered now.
    fn withdraw(&mut self, offer_id: Uuid, why: Withdrawal, ctx: &mut Context<Self>) {
        self.close_without_assignment(offer_id, why, ctx);
        self.dispatch(ctx);
    }

    fn close_without_assignment(
        &mut self,
        offer_id: Uuid,
        why: Withdrawal,
        ctx: &mut Context<Self>,
    ) {
        let Some(offer) = self.close_offer(offer_id, ctx) else {
            return;
        };
        if let Some(waiting) = self.queue.get_mut(offer.session) {
            waiting.offered_to = None;
            if why.keeps_away() {
                waiting.declined.insert(offer.specialist);
            }
        }
        if let Some(reason) = why.revocation() {
            let frame = Frame::OfferRevoked {
                offer_id,
                reason: reason.to_owned(),
            };
            self.context.connections.send_to(
                Peer::specialist(offer.specialist.0),
                &frame.to_text(),
                None,
            );
        }
        if let Some(event) = why.event() {
            self.record(offer.session, event, offer.specialist, offer_id);
        }
    }

    fn record(
        &self,
        session: SessionId,
        event: SessionEvent,
        specialist: SpecialistId,
        offer_id: Uuid,
    ) {
        let work = Transact::new(move |conn| {
            let actor = Some((ParticipantType::Specialist, Some(specialist.0)));
            Ok(db::events::record(
                conn,
                session,
                event,
                actor,
                serde_json::json!({ "offer_id": offer_id }),
            )?)
        });
        let recorded = self.context.persistence.transact(work);
        actix::spawn(async move {
            if let Err(error) = recorded.await {
                log::warn!("session {session}: {event} not recorded: {}", error.message);
            }
        });
    }

    /// Takes the session out of the queue and asks it to commit the assignment.
    pub(super) fn assign(
        &mut self,
        session: SessionId,
        specialist: SpecialistId,
        reply: Option<Reply>,
    ) {
        let Some(waiting) = self.queue.remove(session) else {
            if let Some(reply) = reply {
                reply.err(Error::conflict("the session is no longer waiting"));
            }
            return;
        };
        self.sessions.remove(&session);
        self.told.remove(&session);
        self.assigning.insert(session, waiting);
        self.roster.assign(specialist, session);
        let specialist_name = self
            .roster
            .get(specialist)
            .map(|s| s.name.clone())
            .unwrap_or_default();
        self.context.sessions.tell(
            session,
            Assign {
                specialist,
                specialist_name,
                reply,
            },
        );
    }

    /// Ends these offers without offering anything yet: the caller dispatches once it has
    /// made its own change, or a session leaving the queue would be offered again first.
    pub(super) fn withdraw_all(
        &mut self,
        offers: Vec<Uuid>,
        why: Withdrawal,
        ctx: &mut Context<Self>,
    ) {
        for id in offers {
            self.close_without_assignment(id, why, ctx);
        }
    }
}

impl Actor for Dispatcher {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(SNAPSHOT_EVERY, |this, _| this.send_snapshots());
        ctx.run_interval(SWEEP_EVERY, |this, ctx| this.sweep_abandoned(ctx));
        // The abandonment sweep is the only reader of when a visitor left; a departure
        // older than twice its limit has been acted on (or its session was not waiting).
        ctx.run_interval(FORGET_EVERY, |this, _| {
            let gone = this.context.abandon_after * 2;
            this.context.connections.forget_gone(gone.max(FORGET_EVERY));
            let queue = &this.queue;
            this.presence_checks
                .retain(|id, _| queue.get(*id).is_some());
        });
    }
}

impl Handler<Enqueue> for Dispatcher {
    type Result = ();

    fn handle(&mut self, msg: Enqueue, ctx: &mut Context<Self>) {
        if !self.leads() {
            return self.tell_leader(Tell::Enqueue(Box::new(msg)), ctx);
        }
        let id = msg.waiting.id;
        if let Some(previous) = msg.freed {
            self.roster.unassign(previous, id);
        }
        self.sessions.insert(id, msg.session);
        // Sent again after a new dispatcher loaded it from the database: once is enough.
        if self.queue.get(id).is_none() && !self.assigning.contains_key(&id) {
            self.queue.push(msg.waiting);
        }
        self.tell_one(id);
        self.dispatch(ctx);
    }
}

impl Handler<SetAvailability> for Dispatcher {
    type Result = ();

    fn handle(&mut self, msg: SetAvailability, ctx: &mut Context<Self>) {
        if !self.leads() {
            return self.tell_leader(Tell::SetAvailability(msg), ctx);
        }
        let id = msg.profile.id;
        self.consoles.entry(id).or_default().insert(msg.node);
        self.roster.upsert(msg.profile);
        if let Some(specialist) = self.roster.get_mut(id) {
            specialist.status = msg.status;
        }
        if msg.status != Status::Online {
            self.withdraw_all(
                self.offers.of_specialist(id),
                Withdrawal::StatusChanged,
                ctx,
            );
        }
        self.dispatch(ctx);
    }
}

impl Handler<SpecialistGone> for Dispatcher {
    type Result = ();

    fn handle(&mut self, msg: SpecialistGone, ctx: &mut Context<Self>) {
        if !self.leads() {
            return self.tell_leader(Tell::SpecialistGone(msg), ctx);
        }
        let id = msg.id;
        if !self.last_console_gone(id, msg.node) {
            return;
        }
        self.withdraw_all(self.offers.of_specialist(id), Withdrawal::Offline, ctx);
        let Some(specialist) = self.roster.get_mut(id) else {
            return self.dispatch(ctx);
        };
        specialist.status = Status::Offline;
        let open: Vec<SessionId> = specialist.open.iter().copied().collect();
        log::info!(
            "specialist {id} went offline with {} open sessions",
            open.len()
        );
        for session in open {
            self.context
                .sessions
                .tell(session, ReturnToQueue { specialist: id });
        }
        self.dispatch(ctx);
    }
}

impl Handler<AcceptOffer> for Dispatcher {
    type Result = ();

    fn handle(&mut self, msg: AcceptOffer, ctx: &mut Context<Self>) {
        if !self.leads() {
            return self.relay_accept(msg, ctx);
        }
        if let Err(error) = self.offers.answerable(msg.offer_id, msg.specialist) {
            return msg.reply.err(error);
        }
        let Some(offer) = self.close_offer(msg.offer_id, ctx) else {
            return;
        };
        self.assign(offer.session, offer.specialist, Some(msg.reply));
        self.changed(ctx);
    }
}

impl Handler<DeclineOffer> for Dispatcher {
    type Result = ();

    fn handle(&mut self, msg: DeclineOffer, ctx: &mut Context<Self>) {
        if !self.leads() {
            return self.relay_decline(msg, ctx);
        }
        if let Err(error) = self.offers.answerable(msg.offer_id, msg.specialist) {
            return msg.reply.err(error);
        }
        let offer_id = msg.offer_id;
        msg.reply.frame(|reference| Frame::OfferDeclined {
            reference,
            offer_id,
        });
        self.withdraw(offer_id, Withdrawal::Declined, ctx);
    }
}

impl Handler<Pickup> for Dispatcher {
    type Result = ();

    fn handle(&mut self, msg: Pickup, ctx: &mut Context<Self>) {
        if !self.leads() {
            return self.relay_pickup(msg, ctx);
        }
        if self.queue.get(msg.session).is_none() {
            // Not queued: a message left while nobody could answer is taken outside the
            // queue, by its session, which refuses anything else.
            let take = Command {
                caller: Caller::Specialist(msg.specialist),
                name: msg.name,
                reply: msg.reply,
                command: SessionCommand::Take,
            };
            return self.context.sessions.tell(msg.session, take);
        }
        let holds_offer = self.offers.held(msg.session, msg.specialist);
        if let Err(error) = routing::check_pickup(self.roster.get(msg.specialist), holds_offer) {
            return msg.reply.err(error);
        }
        self.withdraw_all(self.offers.of_session(msg.session), Withdrawal::Taken, ctx);
        self.assign(msg.session, msg.specialist, Some(msg.reply));
        self.dispatch(ctx);
        self.changed(ctx);
    }
}

impl Handler<AssignmentSettled> for Dispatcher {
    type Result = ();

    fn handle(&mut self, msg: AssignmentSettled, ctx: &mut Context<Self>) {
        if !self.leads() {
            return self.tell_leader(Tell::AssignmentSettled(msg), ctx);
        }
        let waiting = self.assigning.remove(&msg.session);
        match msg.settlement {
            Settlement::Assigned { waited_secs } => {
                self.estimator.record_wait(waited_secs);
                return;
            }
            Settlement::NoLongerWaiting => {}
            Settlement::Failed => {
                if let Some(mut waiting) = waiting {
                    waiting.offered_to = None;
                    self.queue.push(waiting);
                    self.tell_one(msg.session);
                }
            }
        }
        self.roster.unassign(msg.specialist, msg.session);
        self.dispatch(ctx);
    }
}

impl Handler<SessionReturned> for Dispatcher {
    type Result = ();

    fn handle(&mut self, msg: SessionReturned, ctx: &mut Context<Self>) {
        if !self.leads() {
            return self.tell_leader(Tell::SessionReturned(msg), ctx);
        }
        self.roster.assign(msg.specialist, msg.session);
        if !self.consoles.contains_key(&msg.specialist) {
            // Whoever answered by mail has gone since: the visitor back for a live chat
            // is served by someone who is here, as when a specialist's console is gone.
            let back = ReturnToQueue {
                specialist: msg.specialist,
            };
            self.context.sessions.tell(msg.session, back);
        }
        self.changed(ctx);
    }
}

impl Handler<SessionClosed> for Dispatcher {
    type Result = ();

    fn handle(&mut self, msg: SessionClosed, ctx: &mut Context<Self>) {
        if !self.leads() {
            return self.tell_leader(Tell::SessionClosed(msg), ctx);
        }
        self.withdraw_all(self.offers.of_session(msg.session), Withdrawal::Ended, ctx);
        self.queue.remove(msg.session);
        self.sessions.remove(&msg.session);
        self.told.remove(&msg.session);
        self.assigning.remove(&msg.session);
        if let Some(specialist) = msg.specialist {
            self.roster.unassign(specialist, msg.session);
        }
        if let Some(secs) = msg.handled_secs.filter(|_| msg.specialist.is_some()) {
            self.estimator.record_handle(secs);
        }
        self.dispatch(ctx);
    }
}

impl Handler<CheckTransferTarget> for Dispatcher {
    type Result = ResponseFuture<Result<()>>;

    fn handle(&mut self, msg: CheckTransferTarget, ctx: &mut Context<Self>) -> Self::Result {
        if !self.leads() {
            let asked = self.ask_leader(Ask::CheckTransferTarget(msg), ctx, |a| match a {
                FromDispatcher::Checked(checked) => Some(checked),
                _ => None,
            });
            return Box::pin(async move { asked.await? });
        }
        let checked = routing::check_transfer_target(self.roster.get(msg.0));
        Box::pin(std::future::ready(checked))
    }
}

impl Handler<OpenSessionsOf> for Dispatcher {
    type Result = ResponseFuture<Result<Vec<SessionId>>>;

    fn handle(&mut self, msg: OpenSessionsOf, ctx: &mut Context<Self>) -> Self::Result {
        if !self.leads() {
            return self.ask_leader(Ask::OpenSessionsOf(msg), ctx, |a| match a {
                FromDispatcher::Open(open) => Some(open),
                _ => None,
            });
        }
        let open = self
            .roster
            .get(msg.0)
            .map(|s| s.open.iter().copied().collect())
            .unwrap_or_default();
        Box::pin(std::future::ready(Ok(open)))
    }
}

impl Handler<StatusOf> for Dispatcher {
    type Result = ResponseFuture<Result<Option<Status>>>;

    fn handle(&mut self, msg: StatusOf, ctx: &mut Context<Self>) -> Self::Result {
        if !self.leads() {
            return self.ask_leader(Ask::StatusOf(msg), ctx, |a| match a {
                FromDispatcher::Status(status) => Some(status),
                _ => None,
            });
        }
        let status = self.roster.get(msg.0).map(|s| s.status);
        Box::pin(std::future::ready(Ok(status)))
    }
}
