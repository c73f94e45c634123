//! The Dispatcher: the queue. It owns the waiting sessions in order and the routing view
//! of every specialist (status, skills, load), picks who gets offered what with the rules
//! in `routing`, runs offers and their timeouts, tells visitors their position and
//! expected wait, and rebuilds itself from the database at start.
//!
//! It never waits for another actor: it decides, sends, and learns the outcome from a
//! later message (`AssignmentSettled`), so it stays responsive with a long queue.

use std::collections::HashMap;
use std::time::Duration;

use actix::prelude::*;
use chrono::Utc;
use uuid::Uuid;

use super::persistence::Transact;
use super::registry::{ConnectionHandle, Peer};
use super::reply::Reply;
use super::session::{waiting_from, Abandon, Assign, ChatSession, PresentOffer, ReturnToQueue};
use crate::db;
use crate::domain::{ParticipantType, SessionEvent, SessionId, SessionStatus, SpecialistId};
use crate::error::{Error, Result};
use crate::protocol::objects::{Audience, Session, SessionView};
use crate::protocol::server::{SpecialistCounts, WaitingEntry};
use crate::protocol::Frame;
use crate::routing::{self, Queue, Roster, SpecialistState, Status, WaitEstimator, Waiting};
use crate::state::AppState;

/// Queue updates are coalesced over a window, so a burst of changes sends one update per
/// visitor instead of one per change. Every chat taken from the head moves everyone
/// behind it, so the window grows with the queue: one more millisecond per ten waiting,
/// from 50 ms up to a second (a queue of 10,000 then costs 10,000 frames a second, not
/// 200,000).
fn update_delay(waiting: usize) -> Duration {
    Duration::from_millis((waiting as u64 / 10).clamp(50, 1000))
}
/// Visitors told per slice of a queue update, and the pause between slices. A long
/// queue's update is thousands of frames; in slices, the dispatcher answers its mailbox
/// between them (a freed slot's offer waits for one slice, not the whole queue), and the
/// connection threads write each slice before the next arrives. 10,000 waiting take
/// 200 ms, a fifth of their coalescing window.
const UPDATE_SLICE: usize = 250;
const UPDATE_SLICE_PAUSE: Duration = Duration::from_millis(5);
const SNAPSHOT_EVERY: Duration = Duration::from_secs(1);
const SWEEP_EVERY: Duration = Duration::from_millis(500);

/// A new or re-queued waiting session.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Enqueue {
    pub waiting: Waiting,
    pub session: Session,
    /// The specialist whose slot the session held (after a transfer).
    pub freed: Option<SpecialistId>,
}

/// Send the session's visitor their position now.
#[derive(Message)]
#[rtype(result = "()")]
pub struct TellPosition(pub SessionId);

/// A specialist's profile and chosen status (from their `Specialist` actor).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetAvailability {
    pub profile: SpecialistState,
    pub status: Status,
}

/// A specialist's console has been gone past the grace period.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SpecialistGone(pub SpecialistId);

#[derive(Message)]
#[rtype(result = "()")]
pub struct AcceptOffer {
    pub offer_id: Uuid,
    pub specialist: SpecialistId,
    pub reply: Reply,
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct DeclineOffer {
    pub offer_id: Uuid,
    pub specialist: SpecialistId,
    pub reply: Reply,
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct Pickup {
    pub session: SessionId,
    pub specialist: SpecialistId,
    pub reply: Reply,
}

/// The outcome of an `Assign` sent to a session.
#[derive(Message)]
#[rtype(result = "()")]
pub struct AssignmentSettled {
    pub session: SessionId,
    pub specialist: SpecialistId,
    pub ok: bool,
    /// On failure: whether the session is still waiting (the commit failed) rather than
    /// gone (it ended meanwhile).
    pub requeue: bool,
}

/// A session ended: it leaves the queue or frees its specialist's slot.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SessionClosed {
    pub session: SessionId,
    pub specialist: Option<SpecialistId>,
    pub handled_secs: Option<f64>,
}

/// A session waited this many seconds before it was assigned.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Waited(pub f64);

/// Whether a session may be transferred to this specialist now.
#[derive(Message)]
#[rtype(result = "Result<()>")]
pub struct CheckTransferTarget(pub SpecialistId);

#[derive(Message)]
#[rtype(result = "()")]
pub struct WatchQueue {
    pub connection: ConnectionHandle,
    pub reference: Option<String>,
}

/// Stops snapshots to a connection; replies `queue.unwatched` when asked over WebSocket.
#[derive(Message)]
#[rtype(result = "()")]
pub struct UnwatchQueue {
    pub connection_id: u64,
    pub reply: Option<Reply>,
}

/// The open sessions of a specialist, for presence notices.
#[derive(Message)]
#[rtype(result = "Vec<SessionId>")]
pub struct OpenSessionsOf(pub SpecialistId);

/// A queue summary for the HTTP API.
#[derive(Message)]
#[rtype(result = "QueueSummary")]
pub struct GetQueue;

#[derive(Debug, Clone, serde::Serialize)]
pub struct QueueSummary {
    pub length: usize,
    pub specialists_online: usize,
    pub estimated_wait_secs: Option<u64>,
    pub waiting: Vec<WaitingEntry>,
}

struct PendingOffer {
    session: SessionId,
    specialist: SpecialistId,
    timer: SpawnHandle,
}

pub struct Dispatcher {
    state: AppState,
    queue: Queue,
    roster: Roster,
    /// Staff views of the waiting sessions, for snapshots.
    sessions: HashMap<SessionId, Session>,
    offers: HashMap<Uuid, PendingOffer>,
    /// Sessions between an accepted offer and its committed assignment.
    assigning: HashMap<SessionId, Waiting>,
    estimator: WaitEstimator,
    /// What each waiting visitor was last told: (position, estimate, online).
    told: HashMap<SessionId, (usize, Option<u64>, usize)>,
    update_scheduled: bool,
    watchers: Vec<ConnectionHandle>,
    snapshot_dirty: bool,
}

/// The open sessions and the recent averages the wait estimate is seeded with, read
/// before the server listens: without its queue the server would route wrongly, so a
/// failure here stops the start-up instead.
pub struct Restored {
    open: Vec<SessionView>,
    averages: (Option<f64>, Option<f64>),
}

impl Restored {
    pub fn load(conn: &mut diesel::PgConnection) -> Result<Self> {
        Ok(Self {
            open: db::sessions::all_open(conn)?,
            averages: db::sessions::recent_averages(conn)?,
        })
    }
}

impl Dispatcher {
    /// A dispatcher that starts from what the database holds: the waiting sessions back
    /// in the queue, specialists' active chats counted against their capacity.
    pub fn new(state: AppState, restored: Restored) -> Self {
        let mut this = Self {
            state,
            queue: Queue::default(),
            roster: Roster::default(),
            sessions: HashMap::new(),
            offers: HashMap::new(),
            assigning: HashMap::new(),
            estimator: WaitEstimator::seeded(restored.averages.0, restored.averages.1),
            told: HashMap::new(),
            update_scheduled: false,
            watchers: Vec::new(),
            snapshot_dirty: false,
        };
        let mut waiting = 0;
        for view in restored.open {
            match (view.row.status, view.row.specialist_id) {
                (SessionStatus::Active, Some(specialist)) => {
                    this.roster.assign(specialist, view.row.id)
                }
                _ => {
                    waiting += 1;
                    this.sessions
                        .insert(view.row.id, Session::for_audience(&view, Audience::Staff));
                    this.queue.push(waiting_from(&view.row));
                }
            }
        }
        log::info!("dispatcher restored {waiting} waiting sessions");
        this
    }

    /// Offers (or, with auto-accept, assigns) whatever can be routed now.
    fn dispatch(&mut self, ctx: &mut Context<Self>) {
        for (session, specialist) in routing::plan_offers(&self.queue, &mut self.roster) {
            if self.state.config.auto_accept {
                self.roster.release(specialist);
                self.assign(session, specialist, None);
            } else {
                self.offer(session, specialist, ctx);
            }
        }
        self.changed(ctx);
    }

    fn offer(&mut self, session: SessionId, specialist: SpecialistId, ctx: &mut Context<Self>) {
        let offer_id = Uuid::new_v4();
        let timeout = self.state.config.offer_timeout();
        let expires_at = Utc::now() + chrono::Duration::from_std(timeout).unwrap_or_default();
        if let Some(waiting) = self.queue.get_mut(session) {
            waiting.offered_to = Some(specialist);
        }
        let timer = ctx.run_later(timeout, move |this, ctx| {
            this.withdraw(offer_id, "expired", true, ctx)
        });
        self.offers.insert(
            offer_id,
            PendingOffer {
                session,
                specialist,
                timer,
            },
        );
        log::debug!("session {session}: offered to {specialist} ({offer_id})");
        ChatSession::tell(
            &self.state,
            session,
            PresentOffer {
                offer_id,
                specialist,
                expires_at,
            },
        );
    }

    /// Ends a pending offer without an assignment: it expired, was declined, or the
    /// session went elsewhere. `declined` keeps it from coming back to that specialist.
    fn withdraw(&mut self, offer_id: Uuid, reason: &str, declined: bool, ctx: &mut Context<Self>) {
        let Some(offer) = self.offers.remove(&offer_id) else {
            return;
        };
        ctx.cancel_future(offer.timer);
        self.roster.release(offer.specialist);
        if let Some(waiting) = self.queue.get_mut(offer.session) {
            waiting.offered_to = None;
            if declined {
                waiting.declined.insert(offer.specialist);
            }
        }
        if reason != "declined" {
            let frame = Frame::OfferRevoked {
                offer_id,
                reason: reason.to_owned(),
            };
            self.state.registry.send_to(
                Peer::specialist(offer.specialist.0),
                &frame.to_text(),
                None,
            );
        }
        let event = match reason {
            "expired" => Some(SessionEvent::OfferExpired),
            "declined" => Some(SessionEvent::OfferDeclined),
            _ => None,
        };
        if let Some(event) = event {
            self.record(offer.session, event, offer.specialist, offer_id);
        }
        self.dispatch(ctx);
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
        let persistence = self.state.persistence.clone();
        actix::spawn(async move {
            if let Err(error) = persistence.transact(work).await {
                log::warn!("session {session}: {event} not recorded: {}", error.message);
            }
        });
    }

    /// Takes the session out of the queue and asks it to commit the assignment.
    fn assign(&mut self, session: SessionId, specialist: SpecialistId, reply: Option<Reply>) {
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
        ChatSession::tell(
            &self.state,
            session,
            Assign {
                specialist,
                specialist_name,
                reply,
            },
        );
    }

    fn revoke_offers_of_session(
        &mut self,
        session: SessionId,
        reason: &str,
        ctx: &mut Context<Self>,
    ) {
        let ids: Vec<Uuid> = self
            .offers
            .iter()
            .filter(|(_, offer)| offer.session == session)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.withdraw(id, reason, false, ctx);
        }
    }

    fn revoke_offers_of_specialist(
        &mut self,
        specialist: SpecialistId,
        reason: &str,
        ctx: &mut Context<Self>,
    ) {
        let ids: Vec<Uuid> = self
            .offers
            .iter()
            .filter(|(_, offer)| offer.specialist == specialist)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.withdraw(id, reason, false, ctx);
        }
    }

    /// Something about the queue changed: visitors and watchers will hear of it.
    fn changed(&mut self, ctx: &mut Context<Self>) {
        self.snapshot_dirty = true;
        if !self.update_scheduled {
            self.update_scheduled = true;
            ctx.run_later(update_delay(self.queue.len()), |this, ctx| {
                this.update_scheduled = false;
                this.tell_visitors(0, ctx);
            });
        }
    }

    /// Sends `queue.update` to the waiting visitors from position `from + 1` on whose
    /// position, estimate or online count changed since they were last told, one slice
    /// now and the rest after a pause. Positions are read afresh for each slice; a
    /// visitor a change between slices skips is told in the update that change brings.
    fn tell_visitors(&mut self, from: usize, ctx: &mut Context<Self>) {
        let online = self.roster.count(Status::Online);
        let mut capacity_by_need: HashMap<(Vec<String>, Option<String>), (usize, usize)> =
            HashMap::new();
        let slice = self
            .queue
            .in_order()
            .enumerate()
            .skip(from)
            .take(UPDATE_SLICE);
        for (index, waiting) in slice {
            let position = index + 1;
            let need = (waiting.skills.clone(), waiting.language.clone());
            let (capacity, free) = *capacity_by_need
                .entry(need)
                .or_insert_with(|| fitting_capacity(&self.roster, waiting));
            let estimate = self.estimator.estimate(position, capacity, free);
            let now = (position, estimate, online);
            if self.told.get(&waiting.id) == Some(&now) {
                continue;
            }
            self.told.insert(waiting.id, now);
            let frame = Frame::QueueUpdate {
                session_id: waiting.id,
                position,
                estimated_wait_secs: estimate,
                specialists_online: online,
            };
            self.state.registry.send_to(
                Peer::visitor(waiting.visitor_id.0),
                &frame.to_text(),
                None,
            );
        }
        let next = from + UPDATE_SLICE;
        if next < self.queue.len() {
            ctx.run_later(UPDATE_SLICE_PAUSE, move |this, ctx| {
                this.tell_visitors(next, ctx)
            });
        }
    }

    fn tell_one(&mut self, session: SessionId) {
        let Some(waiting) = self.queue.get(session) else {
            return;
        };
        let Some(position) = self.queue.position(session) else {
            return;
        };
        let online = self.roster.count(Status::Online);
        let (capacity, free) = fitting_capacity(&self.roster, waiting);
        let estimate = self.estimator.estimate(position, capacity, free);
        self.told.insert(session, (position, estimate, online));
        let frame = Frame::QueueUpdate {
            session_id: session,
            position,
            estimated_wait_secs: estimate,
            specialists_online: online,
        };
        self.state
            .registry
            .send_to(Peer::visitor(waiting.visitor_id.0), &frame.to_text(), None);
    }

    fn waiting_entries(&self) -> Vec<WaitingEntry> {
        let now = Utc::now();
        self.queue
            .in_order()
            .enumerate()
            .filter_map(|(index, waiting)| {
                Some(WaitingEntry {
                    session: self.sessions.get(&waiting.id)?.clone(),
                    position: index + 1,
                    waiting_secs: (now - waiting.queued_at).num_seconds().max(0),
                })
            })
            .collect()
    }

    fn snapshot(&self, reference: Option<String>) -> Frame {
        Frame::QueueSnapshot {
            reference,
            waiting: self.waiting_entries(),
            specialists: SpecialistCounts {
                online: self.roster.count(Status::Online),
                away: self.roster.count(Status::Away),
            },
        }
    }

    fn send_snapshots(&mut self) {
        if !self.snapshot_dirty || self.watchers.is_empty() {
            return;
        }
        self.snapshot_dirty = false;
        let text = self.snapshot(None).to_text();
        for watcher in &self.watchers {
            watcher.send(text.clone());
        }
    }

    /// Abandons waiting sessions whose visitor has had no connection for too long.
    fn sweep_abandoned(&mut self, ctx: &mut Context<Self>) {
        let limit = self.state.config.abandon_after();
        let registry = &self.state.registry;
        let gone: Vec<SessionId> = self
            .queue
            .in_order()
            .filter(|waiting| {
                let visitor = Peer::visitor(waiting.visitor_id.0);
                if registry.is_connected(visitor) {
                    return false;
                }
                let since = registry
                    .disconnected_since(visitor)
                    .map_or(waiting.enqueued, |at| at.max(waiting.enqueued));
                since.elapsed() >= limit
            })
            .map(|waiting| waiting.id)
            .collect();
        for session in gone {
            self.revoke_offers_of_session(session, "abandoned", ctx);
            if let Some(waiting) = self.queue.remove(session) {
                self.state
                    .registry
                    .forget(Peer::visitor(waiting.visitor_id.0));
            }
            self.sessions.remove(&session);
            self.told.remove(&session);
            ChatSession::tell(&self.state, session, Abandon);
            self.changed(ctx);
        }
    }
}

/// Total and free chat slots of the online specialists who could take `waiting`.
fn fitting_capacity(roster: &Roster, waiting: &Waiting) -> (usize, usize) {
    roster
        .iter()
        .filter(|s| {
            s.status == Status::Online
                && waiting.skills.iter().all(|skill| s.skills.contains(skill))
                && waiting
                    .language
                    .as_ref()
                    .is_none_or(|l| s.languages.contains(l))
        })
        .fold((0, 0), |(capacity, free), s| {
            let used = s.open.len() + s.pending_offers;
            (
                capacity + s.max_concurrent_chats,
                free + s.max_concurrent_chats.saturating_sub(used),
            )
        })
}

impl Actor for Dispatcher {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(SNAPSHOT_EVERY, |this, _| this.send_snapshots());
        ctx.run_interval(SWEEP_EVERY, |this, ctx| this.sweep_abandoned(ctx));
    }
}

impl Handler<Enqueue> for Dispatcher {
    type Result = ();

    fn handle(&mut self, msg: Enqueue, ctx: &mut Context<Self>) {
        let id = msg.waiting.id;
        if let Some(previous) = msg.freed {
            self.roster.unassign(previous, id);
        }
        self.sessions.insert(id, msg.session);
        self.queue.push(msg.waiting);
        self.tell_one(id);
        self.dispatch(ctx);
    }
}

impl Handler<TellPosition> for Dispatcher {
    type Result = ();

    fn handle(&mut self, TellPosition(id): TellPosition, _: &mut Context<Self>) {
        self.tell_one(id);
    }
}

impl Handler<SetAvailability> for Dispatcher {
    type Result = ();

    fn handle(&mut self, msg: SetAvailability, ctx: &mut Context<Self>) {
        let id = msg.profile.id;
        self.roster.upsert(msg.profile);
        if let Some(specialist) = self.roster.get_mut(id) {
            specialist.status = msg.status;
        }
        if msg.status != Status::Online {
            self.revoke_offers_of_specialist(id, "status", ctx);
        }
        self.dispatch(ctx);
    }
}

impl Handler<SpecialistGone> for Dispatcher {
    type Result = ();

    fn handle(&mut self, SpecialistGone(id): SpecialistGone, ctx: &mut Context<Self>) {
        self.revoke_offers_of_specialist(id, "offline", ctx);
        let Some(specialist) = self.roster.get_mut(id) else {
            return;
        };
        specialist.status = Status::Offline;
        let open: Vec<SessionId> = specialist.open.iter().copied().collect();
        log::info!(
            "specialist {id} went offline with {} open sessions",
            open.len()
        );
        for session in open {
            ChatSession::tell(&self.state, session, ReturnToQueue { specialist: id });
        }
        self.dispatch(ctx);
    }
}

impl Handler<AcceptOffer> for Dispatcher {
    type Result = ();

    fn handle(&mut self, msg: AcceptOffer, ctx: &mut Context<Self>) {
        let valid = self
            .offers
            .get(&msg.offer_id)
            .is_some_and(|o| o.specialist == msg.specialist);
        if !valid {
            return msg
                .reply
                .err(Error::conflict("this offer is no longer available"));
        }
        let offer = self.offers.remove(&msg.offer_id).expect("checked above");
        ctx.cancel_future(offer.timer);
        self.roster.release(offer.specialist);
        self.assign(offer.session, offer.specialist, Some(msg.reply));
        self.changed(ctx);
    }
}

impl Handler<DeclineOffer> for Dispatcher {
    type Result = ();

    fn handle(&mut self, msg: DeclineOffer, ctx: &mut Context<Self>) {
        let valid = self
            .offers
            .get(&msg.offer_id)
            .is_some_and(|o| o.specialist == msg.specialist);
        if !valid {
            return msg
                .reply
                .err(Error::conflict("this offer is no longer available"));
        }
        let reference = msg.reply.reference();
        msg.reply.ok(Frame::OfferDeclined {
            reference,
            offer_id: msg.offer_id,
        });
        self.withdraw(msg.offer_id, "declined", true, ctx);
    }
}

impl Handler<Pickup> for Dispatcher {
    type Result = ();

    fn handle(&mut self, msg: Pickup, ctx: &mut Context<Self>) {
        if self.queue.get(msg.session).is_none() {
            return msg.reply.err(Error::conflict("the session is not waiting"));
        }
        let own_offer = self
            .offers
            .iter()
            .find(|(_, o)| o.session == msg.session && o.specialist == msg.specialist)
            .map(|(id, _)| *id);
        let Some(specialist) = self.roster.get(msg.specialist) else {
            return msg
                .reply
                .err(Error::conflict("go online or away before picking up chats"));
        };
        let slots_needed = if own_offer.is_some() { 0 } else { 1 };
        let used = specialist.open.len() + specialist.pending_offers;
        if used + slots_needed > specialist.max_concurrent_chats {
            return msg.reply.err(Error::conflict("you are at your chat limit"));
        }
        self.revoke_offers_of_session(msg.session, "taken", ctx);
        self.assign(msg.session, msg.specialist, Some(msg.reply));
        self.changed(ctx);
    }
}

impl Handler<AssignmentSettled> for Dispatcher {
    type Result = ();

    fn handle(&mut self, msg: AssignmentSettled, ctx: &mut Context<Self>) {
        let waiting = self.assigning.remove(&msg.session);
        if msg.ok {
            return;
        }
        self.roster.unassign(msg.specialist, msg.session);
        if let (Some(mut waiting), true) = (waiting, msg.requeue) {
            waiting.offered_to = None;
            self.queue.push(waiting);
            self.tell_one(msg.session);
        }
        self.dispatch(ctx);
    }
}

impl Handler<SessionClosed> for Dispatcher {
    type Result = ();

    fn handle(&mut self, msg: SessionClosed, ctx: &mut Context<Self>) {
        self.revoke_offers_of_session(msg.session, "ended", ctx);
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

impl Handler<Waited> for Dispatcher {
    type Result = ();

    fn handle(&mut self, Waited(secs): Waited, _: &mut Context<Self>) {
        self.estimator.record_wait(secs);
    }
}

impl Handler<CheckTransferTarget> for Dispatcher {
    type Result = Result<()>;

    fn handle(
        &mut self,
        CheckTransferTarget(to): CheckTransferTarget,
        _: &mut Context<Self>,
    ) -> Result<()> {
        match self.roster.get(to) {
            Some(s) if s.status == Status::Online && s.has_free_slot() => Ok(()),
            Some(s) if s.status == Status::Online => {
                Err(Error::conflict("that specialist has no free chat slot"))
            }
            _ => Err(Error::conflict("that specialist is not online")),
        }
    }
}

impl Handler<WatchQueue> for Dispatcher {
    type Result = ();

    fn handle(&mut self, msg: WatchQueue, _: &mut Context<Self>) {
        msg.connection.send_frame(&self.snapshot(msg.reference));
        self.watchers.retain(|w| w.id != msg.connection.id);
        self.watchers.push(msg.connection);
    }
}

impl Handler<UnwatchQueue> for Dispatcher {
    type Result = ();

    fn handle(&mut self, msg: UnwatchQueue, _: &mut Context<Self>) {
        self.watchers.retain(|w| w.id != msg.connection_id);
        if let Some(reply) = msg.reply {
            let reference = reply.reference();
            reply.ok(Frame::QueueUnwatched { reference });
        }
    }
}

impl Handler<OpenSessionsOf> for Dispatcher {
    type Result = Vec<SessionId>;

    fn handle(
        &mut self,
        OpenSessionsOf(id): OpenSessionsOf,
        _: &mut Context<Self>,
    ) -> Vec<SessionId> {
        self.roster
            .get(id)
            .map(|s| s.open.iter().copied().collect())
            .unwrap_or_default()
    }
}

impl Handler<GetQueue> for Dispatcher {
    type Result = MessageResult<GetQueue>;

    fn handle(&mut self, _: GetQueue, _: &mut Context<Self>) -> Self::Result {
        let estimated_wait_secs = self.queue.in_order().last().and_then(|waiting| {
            let (capacity, free) = fitting_capacity(&self.roster, waiting);
            self.estimator
                .estimate(self.queue.len() + 1, capacity, free)
        });
        MessageResult(QueueSummary {
            length: self.queue.len(),
            specialists_online: self.roster.count(Status::Online),
            estimated_wait_secs,
            waiting: self.waiting_entries(),
        })
    }
}

/// How many specialists are online and away right now, for the HTTP stats.
#[derive(Message)]
#[rtype(result = "SpecialistCounts")]
pub struct CountSpecialists;

impl Handler<CountSpecialists> for Dispatcher {
    type Result = MessageResult<CountSpecialists>;

    fn handle(&mut self, _: CountSpecialists, _: &mut Context<Self>) -> Self::Result {
        MessageResult(SpecialistCounts {
            online: self.roster.count(Status::Online),
            away: self.roster.count(Status::Away),
        })
    }
}
