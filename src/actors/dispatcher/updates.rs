//! What the dispatcher tells about the queue: `queue.update` to each waiting visitor
//! (coalesced, and sent in slices for a long queue), `queue.snapshot` to the consoles
//! that watch it, and the summary the HTTP API shows.

use std::collections::HashMap;
use std::time::Duration;

use actix::prelude::*;
use bytes::Bytes;
use chrono::Utc;

use super::actor::{Dispatcher, Told};
use super::remote::SNAPSHOTS;
use super::wire::{Ask, FromDispatcher, Tell};
use crate::actors::connections::Peer;
use crate::actors::messages::dispatcher::{
    Availability, CheckAvailability, CountSpecialists, GetQueue, QueueSummary, TellPosition,
    UnwatchQueue, WatchQueue,
};
use crate::domain::{Priority, SessionId, VisitorId};
use crate::error::Result;
use crate::protocol::server::{SpecialistCounts, WaitingEntry};
use crate::protocol::Frame;
use crate::routing::{fitting_capacity, qualified, Status, Waiting};

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

impl Dispatcher {
    /// Something about the queue changed: visitors and watchers will hear of it.
    pub(super) fn changed(&mut self, ctx: &mut Context<Self>) {
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
            self.tell(waiting, now);
        }
        let next = from + UPDATE_SLICE;
        if next < self.queue.len() {
            ctx.run_later(UPDATE_SLICE_PAUSE, move |this, ctx| {
                this.tell_visitors(next, ctx)
            });
        }
    }

    pub(super) fn tell_one(&mut self, session: SessionId) {
        let Some(waiting) = self.queue.get(session) else {
            return;
        };
        let Some(position) = self.queue.position(session) else {
            return;
        };
        let online = self.roster.count(Status::Online);
        let (capacity, free) = fitting_capacity(&self.roster, waiting);
        let estimate = self.estimator.estimate(position, capacity, free);
        let now = (position, estimate, online);
        self.told.insert(session, now);
        self.tell(waiting, now);
    }

    /// Sends `queue.update` to the visitor of `waiting`: (position, estimate, online).
    fn tell(&self, waiting: &Waiting, (position, estimate, online): Told) {
        let frame = Frame::QueueUpdate {
            session_id: waiting.id,
            position,
            estimated_wait_secs: estimate,
            specialists_online: online,
        };
        let visitor = Peer::visitor(waiting.visitor_id.0);
        self.context
            .connections
            .send_to(visitor, &frame.to_text(), None);
    }

    /// The waiting sessions in queue order, those `shown` only when given, at most the
    /// configured number: a long queue's listing stays a bounded size.
    pub(super) fn waiting_entries(&self, shown: Option<&[SessionId]>) -> Vec<WaitingEntry> {
        let now = Utc::now();
        self.queue
            .in_order()
            .enumerate()
            .filter(|(_, waiting)| shown.is_none_or(|shown| shown.contains(&waiting.id)))
            .take(self.context.queue_list_max)
            .filter_map(|(index, waiting)| {
                Some(WaitingEntry {
                    session: self.sessions.get(&waiting.id)?.clone(),
                    position: index + 1,
                    waiting_secs: (now - waiting.queued_at).num_seconds().max(0),
                })
            })
            .collect()
    }

    pub(super) fn snapshot(&self, reference: Option<String>) -> Frame {
        Frame::QueueSnapshot {
            reference,
            waiting: self.waiting_entries(None),
            total: self.queue.len(),
            specialists: SpecialistCounts {
                online: self.roster.count(Status::Online),
                away: self.roster.count(Status::Away),
            },
        }
    }

    pub(super) fn send_snapshots(&mut self) {
        let cluster = &self.context.cluster;
        let watched = !self.watchers.is_empty() || cluster.is_clustered();
        if !self.snapshot_dirty || !watched || !self.leads() {
            return;
        }
        self.snapshot_dirty = false;
        let text = self.snapshot(None).to_text();
        // Whether consoles watch the queue on other nodes is theirs to know.
        cluster.publish(SNAPSHOTS.into(), Bytes::copy_from_slice(text.as_bytes()));
        for watcher in &self.watchers {
            watcher.send(text.clone());
        }
    }
}

impl Handler<TellPosition> for Dispatcher {
    type Result = ();

    fn handle(&mut self, msg: TellPosition, ctx: &mut Context<Self>) {
        if !self.leads() {
            return self.tell_leader(Tell::TellPosition(msg), ctx);
        }
        self.tell_one(msg.0);
    }
}

impl Handler<WatchQueue> for Dispatcher {
    type Result = ();

    fn handle(&mut self, msg: WatchQueue, ctx: &mut Context<Self>) {
        self.watchers.retain(|w| w.id != msg.connection.id);
        self.watchers.push(msg.connection.clone());
        if self.leads() {
            msg.connection.send_frame(&self.snapshot(msg.reference));
        } else {
            self.snapshot_from_leader(msg.connection, msg.reference, ctx);
        }
    }
}

impl Handler<UnwatchQueue> for Dispatcher {
    type Result = ();

    fn handle(&mut self, msg: UnwatchQueue, _: &mut Context<Self>) {
        self.watchers.retain(|w| w.id != msg.connection_id);
        if let Some(reply) = msg.reply {
            reply.frame(|reference| Frame::QueueUnwatched { reference });
        }
    }
}

impl Handler<GetQueue> for Dispatcher {
    type Result = ResponseFuture<Result<QueueSummary>>;

    fn handle(&mut self, msg: GetQueue, ctx: &mut Context<Self>) -> Self::Result {
        if !self.leads() {
            return self.ask_leader(Ask::GetQueue(msg), ctx, |a| match a {
                FromDispatcher::Queue(summary) => Some(summary),
                _ => None,
            });
        }
        let estimated_wait_secs = self.queue.in_order().last().and_then(|waiting| {
            let (capacity, free) = fitting_capacity(&self.roster, waiting);
            self.estimator
                .estimate(self.queue.len() + 1, capacity, free)
        });
        Box::pin(std::future::ready(Ok(QueueSummary {
            length: self.queue.len(),
            specialists_online: self.roster.count(Status::Online),
            estimated_wait_secs,
            waiting: self.waiting_entries(msg.shown.as_deref()),
        })))
    }
}

impl Handler<CountSpecialists> for Dispatcher {
    type Result = ResponseFuture<Result<SpecialistCounts>>;

    fn handle(&mut self, msg: CountSpecialists, ctx: &mut Context<Self>) -> Self::Result {
        if !self.leads() {
            return self.ask_leader(Ask::CountSpecialists(msg), ctx, |a| match a {
                FromDispatcher::Counts(counts) => Some(counts),
                _ => None,
            });
        }
        Box::pin(std::future::ready(Ok(SpecialistCounts {
            online: self.roster.count(Status::Online),
            away: self.roster.count(Status::Away),
        })))
    }
}

impl Handler<CheckAvailability> for Dispatcher {
    type Result = ResponseFuture<Result<Availability>>;

    fn handle(&mut self, msg: CheckAvailability, ctx: &mut Context<Self>) -> Self::Result {
        if !self.leads() {
            return self.ask_leader(Ask::CheckAvailability(msg), ctx, |a| match a {
                FromDispatcher::Availability(availability) => Some(availability),
                _ => None,
            });
        }
        // The chat the visitor would start, as routing sees it: at the end of the queue.
        let mut asked = Waiting::new(
            SessionId::new(),
            VisitorId::new(),
            Priority::Medium,
            Utc::now(),
        );
        asked.skills = msg.skills;
        asked.language = msg.language;
        let fitting_online = self
            .roster
            .iter()
            .filter(|s| s.status == Status::Online && qualified(&asked, s))
            .count();
        let (capacity, free) = fitting_capacity(&self.roster, &asked);
        let estimated_wait_secs = self
            .estimator
            .estimate(self.queue.len() + 1, capacity, free);
        Box::pin(std::future::ready(Ok(Availability {
            fitting_online,
            estimated_wait_secs,
        })))
    }
}
