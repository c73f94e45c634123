//! ChatSession: one actor per open conversation, the single writer of its session. It
//! holds the session's [`Conversation`], asks it what each request or event comes to,
//! has Persistence commit the change, and only after the commit applies the effects: the
//! requester gets its answer, every other connection of every participant the event.
//!
//! Every commit runs inside `ctx.wait`, so the next request starts only after the
//! previous commit has answered. That makes `seq` trivially gap-free (it only advances
//! on success) while group commit still merges the writes of many sessions. The actor
//! is started lazily from the database and stops when idle; nothing in it is needed to
//! survive a restart.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use chrono::{DateTime, SubsecRound, Utc};
use futures_util::future::Either;
use uuid::Uuid;

use super::{commit, load};
use crate::actors::connections::{Connections, Map};
use crate::actors::messages::dispatcher::{
    AssignmentSettled, DispatcherInbox, Enqueue, SessionClosed, SessionReturned, TellPosition,
};
use crate::actors::messages::scheduler::{Forget, Schedule, SchedulerInbox};
use crate::actors::messages::session::{Routed, StopSession};
use crate::actors::persistence::{Persistence, Transact};
use crate::actors::reply::Reply;
use crate::cluster::{Cluster, NodeId};
use crate::conversation::{
    fit_reply, Answer, Conversation, Decision, Effect, PageAnswer, Peers, Query, QueueNotice, Step,
    Stored, RESUME_LIMIT,
};
use crate::db::sessions::SessionView;
use crate::db::{self, messages::Page, Db};
use crate::domain::{SessionId, SessionStatus};
use crate::error::{Error, Result};
use crate::protocol::objects::{Audience, Message};
use crate::protocol::Frame;
use crate::webhooks::Webhooks;

const IDLE_STOP: Duration = Duration::from_secs(600);

/// What every session actor works with.
pub struct SessionContext {
    pub db: Db,
    pub persistence: Persistence,
    pub connections: Arc<Connections>,
    pub webhooks: Arc<Webhooks>,
    pub dispatcher: DispatcherInbox,
    pub scheduler: SchedulerInbox,
    /// Bytes of messages one reply carries at most.
    pub reply_bytes: usize,
    /// This node, and the others serving sessions too, if any.
    pub cluster: Arc<Cluster>,
}

/// The running session actors by id: finds a session's actor, or starts it.
#[derive(Clone)]
pub struct Sessions(Arc<Directory>);

struct Directory {
    running: Map<SessionId, Addr<ChatSession>>,
    context: SessionContext,
    /// Set when this node stops: it serves no session any more.
    draining: AtomicBool,
    /// The node each session served elsewhere was last found at (see `route`).
    owners: Map<SessionId, String>,
}

impl Sessions {
    pub fn new(context: SessionContext) -> Sessions {
        Sessions(Arc::new(Directory {
            running: Map::default(),
            context,
            draining: AtomicBool::new(false),
            owners: Map::default(),
        }))
    }

    pub(super) fn context(&self) -> &SessionContext {
        &self.0.context
    }

    /// Sends `msg` to the session's actor, restoring the actor from the database if it
    /// is not running. The address is used where it is stored: cloning an actix address
    /// allocates, and this runs for every frame of a conversation.
    pub fn tell<M>(&self, id: SessionId, msg: M)
    where
        M: Routed,
        ChatSession: Handler<M>,
    {
        match self.0.running.get(&id) {
            Some(session) => session.do_send(msg),
            None if self.context().cluster.is_clustered() => self.route(id, msg),
            None => self.running(id, None).do_send(msg),
        }
    }

    /// The node new sessions are claimed for, in a cluster.
    pub fn claim_as(&self) -> Option<String> {
        let node = self.context().cluster.member()?;
        Some(node.as_str().to_owned())
    }

    pub(super) fn owners(&self) -> &Map<SessionId, String> {
        &self.0.owners
    }

    pub(super) fn is_running(&self, id: SessionId) -> bool {
        self.0.running.contains_key(&id)
    }

    /// Sessions whose actor runs on this node.
    pub fn running_count(&self) -> usize {
        self.0.running.len()
    }

    /// This node is stopping: from now on it serves no session, and forwards nothing
    /// it would have to serve itself.
    pub fn drain(&self) {
        self.0.draining.store(true, Ordering::Relaxed);
    }

    pub fn draining(&self) -> bool {
        self.0.draining.load(Ordering::Relaxed)
    }

    /// Stops every session actor here: this node may no longer own their sessions.
    pub fn stop_all(&self) {
        let running: Vec<Addr<ChatSession>> = self
            .0
            .running
            .iter()
            .map(|entry| entry.value().clone())
            .collect();
        self.0.running.clear();
        for session in running {
            session.do_send(StopSession);
        }
    }

    /// A conversation was just stored, or found open when a visitor started one: a new
    /// one joins the queue, and the visitor of a waiting one hears their position. An
    /// actor without messages to load starts with the view; one with messages (a
    /// handoff's transcript, an older conversation) loads them when first told.
    pub fn opened(&self, view: SessionView) {
        let id = view.row.id;
        let waiting = view.row.status == SessionStatus::Waiting;
        // A waiting session with a running actor is in the queue already.
        let enqueue = (waiting && !self.0.running.contains_key(&id)).then(|| Enqueue {
            waiting: crate::routing::Waiting::of(&view.row),
            session: crate::protocol::objects::Session::for_audience(&view, Audience::Staff),
            freed: None,
        });
        // In a cluster only the node that created the session may start it from the
        // view: for another it may be someone else's.
        let own =
            view.row.owner_node.as_deref() == self.context().cluster.member().map(NodeId::as_str);
        if view.row.last_seq == 0 && own {
            self.running(id, Some(view));
        }
        let dispatcher = &self.context().dispatcher;
        match enqueue {
            Some(enqueue) => dispatcher.enqueue.do_send(enqueue),
            None if waiting => dispatcher.tell_position.do_send(TellPosition(id)),
            None => {}
        }
    }

    /// The running actor of session `id`, started first (with `view`, or to load the
    /// session itself) when there is none.
    pub(super) fn running(
        &self,
        id: SessionId,
        view: Option<SessionView>,
    ) -> dashmap::mapref::one::RefMut<'_, SessionId, Addr<ChatSession>> {
        self.0.running.entry(id).or_insert_with(|| {
            ChatSession {
                sessions: self.clone(),
                id,
                epoch: view.as_ref().map_or(0, |view| view.row.owner_epoch),
                loaded: view.is_some(),
                conversation: view.map(Conversation::new),
                refusal: None,
                typing: HashMap::new(),
                last_activity: Instant::now(),
            }
            .start()
        })
    }

    fn forget(&self, id: SessionId, addr: &Addr<ChatSession>) {
        self.0.running.remove_if(&id, |_, running| running == addr);
    }
}

pub struct ChatSession {
    pub(super) sessions: Sessions,
    pub(super) id: SessionId,
    /// The fencing token this actor writes with: the epoch at which this node claimed
    /// the session (always 0 for a single node).
    pub(super) epoch: i64,
    /// Whether loading has finished; `conversation` is `None` before, and after for a
    /// session that does not exist.
    pub(super) loaded: bool,
    pub(super) conversation: Option<Conversation>,
    /// Why this actor could not load its session: what it answers until it stops.
    pub(super) refusal: Option<Error>,
    pub(super) typing: HashMap<Uuid, SpawnHandle>,
    pub(super) last_activity: Instant,
}

/// Now, to the microsecond Postgres keeps, so what the actor holds equals what it stored.
pub(super) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

impl ChatSession {
    pub(super) fn context(&self) -> &SessionContext {
        self.sessions.context()
    }

    /// The conversation, or why a request cannot be served by this actor right now.
    pub(super) fn available(&mut self) -> Result<&Conversation> {
        self.last_activity = Instant::now();
        if !self.loaded {
            return Err(Error::internal("session unavailable, please retry"));
        }
        if let Some(refusal) = &self.refusal {
            return Err(refusal.clone());
        }
        self.conversation
            .as_ref()
            .ok_or_else(|| Error::not_found("no such session"))
    }

    pub(super) fn perform(&mut self, step: Step, reply: Option<Reply>, ctx: &mut Context<Self>) {
        match step {
            Step::Done(effects) => self.apply(effects, reply, ctx),
            Step::Commit(decision) => self.commit(decision, reply, ctx, |_| {}),
            Step::CheckTarget { target, decision } => {
                self.check_target(target, decision, reply, ctx)
            }
            Step::CheckKey {
                sender,
                key,
                decision,
            } => self.check_key(sender, key, decision, reply, ctx),
            Step::Read(query) => self.read(query, reply, ctx),
            Step::Typing { from, is_typing } => self.typing(from, is_typing, ctx),
            Step::UnlessVisitorHere(step) => self.unless_visitor_here(*step, reply, ctx),
        }
    }

    /// Commits the decision with the mailbox paused, so writes of this session never
    /// overlap, then applies its effects. `settled` learns whether the change was taken
    /// (or refused) rather than failed.
    pub(super) fn commit(
        &mut self,
        decision: Decision,
        reply: Option<Reply>,
        ctx: &mut Context<Self>,
        settled: impl FnOnce(Result<(), &Error>) + 'static,
    ) {
        let Decision { change, then } = decision;
        let persistence = &self.context().persistence;
        let stored = if change.only_appends() {
            let appended = persistence.append(change.messages, self.epoch);
            Either::Left(async move { appended.await.map(|()| Ok(Stored::default())) })
        } else {
            let webhooks = self.context().webhooks.clone();
            let epoch = self.epoch;
            let specialist = change.participant.filter(|_| !change.beyond_capacity);
            let work = Transact::new(move |conn| commit::commit(conn, &webhooks, &change, epoch))
                .locking(specialist);
            Either::Right(persistence.transact(work))
        };
        ctx.wait(stored.into_actor(self).map(move |result, this, ctx| {
            let (outcome, effects) = match result {
                Ok(Ok(stored)) => (
                    Ok(()),
                    this.conversation
                        .as_mut()
                        .map(|c| c.committed(then, stored)),
                ),
                Ok(Err(refused)) => (
                    Ok(()),
                    this.conversation.as_ref().map(|c| c.failed(&then, refused)),
                ),
                Err(error) => {
                    if error.is_moved() {
                        // Another node claimed the session: this actor is stale.
                        this.sessions.forget(this.id, &ctx.address());
                        ctx.stop();
                    }
                    (
                        Err(error.clone()),
                        this.conversation.as_ref().map(|c| c.failed(&then, error)),
                    )
                }
            };
            settled(outcome.as_ref().map(|_| ()));
            this.apply(effects.unwrap_or_default(), reply, ctx);
        }));
    }

    /// Applies effects in order. The requester's answer goes to `reply`; fan-out skips
    /// the requester's connection, which has its answer.
    pub(super) fn apply(
        &mut self,
        effects: Vec<Effect>,
        mut reply: Option<Reply>,
        ctx: &mut Context<Self>,
    ) {
        let skip = reply.as_ref().and_then(Reply::connection_id);
        let mut effects = effects.into_iter();
        while let Some(effect) = effects.next() {
            match effect {
                Effect::Answer(answer) => {
                    if let Some(reply) = reply.take() {
                        reply.answer(self.id, answer);
                    }
                }
                Effect::Refuse(error) => {
                    if let Some(reply) = reply.take() {
                        reply.err(error);
                    }
                }
                Effect::Deliver { frame, to } => self.deliver(&frame, to, skip),
                Effect::Announce { frame, to } => self.deliver(&frame, to, None),
                Effect::AnswerWithTranscript(audience) => {
                    let Some(reply) = reply.take() else { continue };
                    // The mailbox waits so no message of the conversation overtakes it.
                    let rest: Vec<Effect> = effects.collect();
                    let with_notes = audience == Audience::Staff;
                    let transcript = self.messages(Page::After(0), RESUME_LIMIT, with_notes);
                    ctx.wait(transcript.into_actor(self).map(move |result, this, ctx| {
                        match (result, this.conversation.as_ref()) {
                            (Ok((messages, has_more)), Some(conversation)) => {
                                let session = conversation.session_for(audience);
                                reply.answer(
                                    this.id,
                                    Answer::State {
                                        session,
                                        messages,
                                        has_more,
                                    },
                                );
                            }
                            (Err(error), _) => reply.err(error),
                            (Ok(_), None) => {}
                        }
                        this.apply(rest, None, ctx);
                    }));
                    return;
                }
                Effect::Queue(notice) => self.notify_queue(notice),
                Effect::Schedule { id, send_at } => {
                    let session = self.id;
                    let schedule = Schedule {
                        id,
                        session,
                        send_at,
                    };
                    self.context().scheduler.schedule.do_send(schedule);
                }
                Effect::Forget(ids) => self.context().scheduler.forget.do_send(Forget(ids)),
            }
        }
    }

    fn deliver(&self, frame: &Frame, to: Peers, skip: Option<u64>) {
        let text = frame.to_text();
        let connections = &self.context().connections;
        for peer in to.iter() {
            match frame {
                Frame::MessageNew { message } => {
                    connections.send_message_to(peer, &text, skip, (self.id, message.seq))
                }
                _ => connections.send_to(peer, &text, skip),
            }
        }
    }

    fn notify_queue(&self, notice: QueueNotice) {
        let dispatcher = &self.context().dispatcher;
        let session = self.id;
        match notice {
            QueueNotice::Enqueue {
                waiting,
                session,
                freed,
            } => dispatcher.enqueue.do_send(Enqueue {
                waiting: *waiting,
                session: *session,
                freed,
            }),
            QueueNotice::Closed {
                specialist,
                handled_secs,
            } => dispatcher.closed.do_send(SessionClosed {
                session,
                specialist,
                handled_secs,
            }),
            QueueNotice::Returned { specialist } => dispatcher.returned.do_send(SessionReturned {
                session,
                specialist,
            }),
            QueueNotice::Settled {
                specialist,
                settlement,
            } => dispatcher.settled.do_send(AssignmentSettled {
                session,
                specialist,
                settlement,
            }),
        }
    }

    /// Answers from the database, off the actor's critical path.
    pub(super) fn read(&mut self, query: Query, reply: Option<Reply>, ctx: &mut Context<Self>) {
        let Some(reply) = reply else { return };
        let id = self.id;
        match query {
            Query::Page {
                page,
                limit,
                with_notes,
                answer,
            } => {
                let messages = self.messages(page, limit, with_notes);
                ctx.spawn(
                    async move {
                        let (messages, has_more) = messages.await?;
                        Ok(match answer {
                            PageAnswer::State(session) => Answer::State {
                                session: *session,
                                messages,
                                has_more,
                            },
                            PageAnswer::History => Answer::History { messages, has_more },
                        })
                    }
                    .into_actor(self)
                    .map(move |result: Result<Answer>, _, _| match result {
                        Ok(answer) => reply.answer(id, answer),
                        Err(error) => reply.err(error),
                    }),
                );
            }
            Query::Resent { seq } => {
                let original = self.messages(Page::After(seq - 1), 1, true);
                ctx.spawn(original.into_actor(self).map(move |result, _, _| {
                    let found = result.and_then(|(mut page, _)| {
                        page.pop()
                            .filter(|message| message.seq == seq)
                            .ok_or_else(|| Error::internal("acknowledged message missing"))
                    });
                    match found {
                        Ok(message) => reply.answer(id, Answer::Sent(message)),
                        Err(error) => reply.err(error),
                    }
                }));
            }
        }
    }

    /// A page of messages, with or without notes, cut to the reply's byte budget.
    fn messages(
        &self,
        page: Page,
        limit: i64,
        with_notes: bool,
    ) -> impl std::future::Future<Output = Result<(Vec<Message>, bool)>> + 'static {
        let id = self.id;
        let db = self.context().db.clone();
        let budget = self.context().reply_bytes;
        async move {
            let (rows, has_more) = db
                .run(move |conn| Ok(db::messages::page(conn, id, page, limit, with_notes)?))
                .await?;
            let mut messages: Vec<Message> = rows.iter().map(Message::from_stored).collect();
            let cut = fit_reply(&mut messages, page, budget);
            Ok((messages, has_more || cut))
        }
    }
}

impl Actor for ChatSession {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(Duration::from_secs(60), |this, ctx| {
            if this.last_activity.elapsed() > IDLE_STOP {
                ctx.stop();
            }
        });
        if self.loaded {
            return;
        }
        let id = self.id;
        let db = self.context().db.clone();
        let claim = self.sessions.claim_as();
        let restore = async move {
            db.run(move |conn| load::restore(conn, id, claim.as_deref()))
                .await
        };
        ctx.wait(
            restore
                .into_actor(self)
                .map(move |result, this, ctx| match result {
                    Ok(restored) => {
                        this.loaded = true;
                        this.epoch = restored.as_ref().map_or(0, |r| r.view.row.owner_epoch);
                        this.conversation = restored.map(Conversation::restore);
                        if this.conversation.is_none() {
                            // Unknown id: answer what is queued with not_found, then go.
                            ctx.run_later(Duration::from_secs(1), |_, ctx| ctx.stop());
                        }
                    }
                    Err(error) => {
                        // Could not load (database away, or another node serves the
                        // session now): refuse what is queued and let the next request
                        // start a fresh attempt.
                        log::warn!("session {id}: could not load: {}", error.message);
                        this.sessions.forget(id, &ctx.address());
                        this.loaded = true;
                        this.refusal = Some(error);
                        ctx.run_later(Duration::from_secs(1), |_, ctx| ctx.stop());
                    }
                }),
        );
    }

    fn stopping(&mut self, ctx: &mut Context<Self>) -> Running {
        self.sessions.forget(self.id, &ctx.address());
        Running::Stop
    }
}
