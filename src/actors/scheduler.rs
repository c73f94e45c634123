//! Scheduler: sends scheduled messages at their time (SPEC section 10). It holds the
//! pending rows' times in memory, loaded from Postgres at start-up so nothing is lost by
//! a restart, and keeps a single timer for the earliest one. When a row is due it asks
//! the session's `ChatSession` actor to deliver it: the session actor stays the only
//! writer of its messages, and decides whether the row is sent or cancelled. A delivery
//! that could not settle (database away, actor gone) is tried again a little later.
//!
//! In a cluster each node's scheduler sends what its sessions scheduled, and the
//! leading node's also reads every pending row again each [`RELOAD_EVERY`], so the
//! rows of a node that died are sent too. A row handed over twice is sent once: its
//! session sends it only while it is pending.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use tokio::sync::oneshot;

use super::messages::scheduler::{Forget, Schedule, SchedulerInbox};
use super::messages::session::DeliverScheduled;
use super::session::Sessions;
use crate::access;
use crate::auth::Caller;
use crate::cluster::Cluster;
use crate::db::{self, Db};
use crate::domain::{ScheduledId, SessionId};
use crate::error::{Error, Result};

/// Wait before trying a delivery or the start-up load again after a failure.
const RETRY: Duration = Duration::from_secs(5);
/// How often the leading node of a cluster reads the pending rows again.
const RELOAD_EVERY: Duration = Duration::from_secs(5);

pub struct Scheduler {
    db: Db,
    cluster: Arc<Cluster>,
    sessions: Sessions,
    /// Pending rows in the order they are due.
    due: BTreeSet<(DateTime<Utc>, ScheduledId)>,
    pending: HashMap<ScheduledId, (DateTime<Utc>, SessionId)>,
    /// The one timer, set for the earliest row, and when it fires.
    timer: Option<(DateTime<Utc>, SpawnHandle)>,
}

impl Scheduler {
    /// The inbox sessions reach the scheduler through.
    pub fn inbox(address: &Addr<Scheduler>) -> SchedulerInbox {
        SchedulerInbox {
            schedule: address.clone().recipient(),
            forget: address.clone().recipient(),
        }
    }

    pub fn new(db: Db, cluster: Arc<Cluster>, sessions: Sessions) -> Self {
        Self {
            db,
            cluster,
            sessions,
            due: BTreeSet::new(),
            pending: HashMap::new(),
            timer: None,
        }
    }

    fn add(&mut self, id: ScheduledId, session: SessionId, send_at: DateTime<Utc>) {
        self.remove(id);
        self.due.insert((send_at, id));
        self.pending.insert(id, (send_at, session));
    }

    fn remove(&mut self, id: ScheduledId) {
        if let Some((send_at, _)) = self.pending.remove(&id) {
            self.due.remove(&(send_at, id));
        }
    }

    /// Sets the timer for the earliest row, unless it is already set for that time.
    fn arm(&mut self, ctx: &mut Context<Self>) {
        let earliest = self.due.first().map(|(at, _)| *at);
        if self.timer.as_ref().map(|(at, _)| *at) == earliest {
            return;
        }
        if let Some((_, handle)) = self.timer.take() {
            ctx.cancel_future(handle);
        }
        let Some(at) = earliest else { return };
        let delay = (at - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        let handle = ctx.run_later(delay, |this, ctx| {
            this.timer = None;
            this.fire(ctx);
        });
        self.timer = Some((at, handle));
    }

    /// Hands every due row to its session's actor, then waits for the next one.
    fn fire(&mut self, ctx: &mut Context<Self>) {
        let now = Utc::now();
        while let Some((send_at, id)) = self.due.first().copied() {
            if send_at > now {
                break;
            }
            // `due` and `pending` change together, so every due id is pending.
            let (_, session) = self.pending[&id];
            self.remove(id);
            self.deliver(id, session, ctx);
        }
        self.arm(ctx);
    }

    fn deliver(&mut self, id: ScheduledId, session: SessionId, ctx: &mut Context<Self>) {
        let (done, settled) = oneshot::channel();
        self.sessions.tell(session, DeliverScheduled { id, done });
        ctx.spawn(
            async move { settled.await.unwrap_or(false) }
                .into_actor(self)
                .map(move |settled, this, ctx| {
                    if !settled {
                        log::warn!("scheduled message {id} of session {session}: retrying");
                        let retry_at = Utc::now() + RETRY;
                        this.add(id, session, retry_at);
                        this.arm(ctx);
                    }
                }),
        );
    }

    fn load(&mut self, ctx: &mut Context<Self>) {
        let db = self.db.clone();
        ctx.spawn(
            async move {
                db.run(|conn| Ok(db::scheduled_messages::all_pending(conn)?))
                    .await
            }
            .into_actor(self)
            .map(|result, this, ctx| match result {
                Ok(rows) => {
                    log::debug!("scheduler: {} pending scheduled messages", rows.len());
                    for (id, session, send_at) in rows {
                        this.add(id, session, send_at);
                    }
                    this.arm(ctx);
                }
                Err(error) => {
                    log::warn!("scheduler: could not load: {}", error.message);
                    ctx.run_later(RETRY, |this, ctx| this.load(ctx));
                }
            }),
        );
    }
}

impl Actor for Scheduler {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.load(ctx);
        if self.cluster.is_clustered() {
            ctx.run_interval(RELOAD_EVERY, |this, ctx| {
                if this.cluster.leads() {
                    this.load(ctx);
                }
            });
        }
    }
}

impl Handler<Schedule> for Scheduler {
    type Result = ();

    fn handle(&mut self, msg: Schedule, ctx: &mut Context<Self>) {
        self.add(msg.id, msg.session, msg.send_at);
        self.arm(ctx);
    }
}

impl Handler<Forget> for Scheduler {
    type Result = ();

    fn handle(&mut self, Forget(ids): Forget, ctx: &mut Context<Self>) {
        for id in ids {
            self.remove(id);
        }
        self.arm(ctx);
    }
}

/// `message.unschedule`: only the specialist who scheduled it, or an admin; a row that
/// was already sent or cancelled is a conflict.
pub async fn unschedule(
    db: &Db,
    scheduler: &Addr<Scheduler>,
    caller: Caller,
    id: ScheduledId,
) -> Result<()> {
    db.run(move |conn| {
        let row = db::scheduled_messages::find(conn, id)?
            .ok_or_else(|| Error::not_found("no such scheduled message"))?;
        access::authorize_unschedule(&caller, row.specialist_id)?;
        if !db::scheduled_messages::cancel(conn, id)? {
            return Err(Error::conflict(
                "this message was already sent or cancelled",
            ));
        }
        Ok(())
    })
    .await?;
    scheduler.do_send(Forget(vec![id]));
    Ok(())
}
