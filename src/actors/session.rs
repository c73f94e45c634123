//! ChatSession: one actor per open conversation, the single writer of its session. It
//! assigns the gap-free `seq`, checks who may do what (`access`), asks Persistence to
//! commit, and only after the commit tells anyone: the requester gets its reply, every
//! other connection of every participant gets the event.
//!
//! Every request that writes is handled inside `ctx.wait`, so the next one starts only
//! after the previous commit has answered. That makes `seq` trivially gap-free (it only
//! advances on success) while group commit still merges the writes of many sessions.
//! The actor is started lazily from the database and stops when idle; nothing in it is
//! needed to survive a restart.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use actix::prelude::*;
use chrono::{DateTime, SubsecRound, Utc};
use tokio::sync::oneshot;
use uuid::Uuid;

use super::dispatcher::{AssignmentSettled, Enqueue};
use super::persistence::Transact;
use super::registry::Peer;
use super::reply::Reply;
use super::scheduler::{Forget, Schedule};
use crate::access::{self, Action, Party};
use crate::auth::Caller;
use crate::db::{self, messages::Page, sessions::SessionChanges};
use crate::domain::{
    inputs, AttachmentId, MessageId, MessageKind, ParticipantType, Priority, ScheduledId,
    ScheduledState, SessionEvent, SessionId, SessionStatus, SpecialistId,
};
use crate::error::{Error, ErrorCode, Result};
use crate::protocol::objects::{
    Attachment, Audience, Message, Participant, Session, SessionSpecialist, SessionView,
};
use crate::protocol::Frame;
use crate::routing::Waiting;
use crate::state::AppState;
use crate::webhooks::{outbox, WebhookEvent, Webhooks};

/// Messages kept in memory for offers and quick resumes.
const RECENT: usize = 200;
const TYPING_EXPIRES: Duration = Duration::from_secs(6);
const IDLE_STOP: Duration = Duration::from_secs(600);
const RESUME_LIMIT: i64 = 500;
const HISTORY_LIMIT: i64 = 200;

/// A request from a participant (over WebSocket or HTTP).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Command {
    pub caller: Caller,
    /// The caller's display name, shown as the sender of their messages.
    pub name: Option<String>,
    pub reply: Reply,
    pub action: SessionCommand,
}

#[derive(Debug, Clone)]
pub enum SessionCommand {
    Send {
        client_msg_id: Option<String>,
        body: Option<String>,
        attachment_id: Option<AttachmentId>,
    },
    /// A specialist's `message.send` with `send_at`: stored now, sent at that time.
    Schedule(ScheduleRequest),
    Typing {
        is_typing: bool,
    },
    Read {
        seq: i32,
    },
    Resume {
        after_seq: i32,
    },
    History {
        before_seq: Option<i32>,
        limit: Option<i64>,
    },
    End {
        reason: Option<String>,
    },
    Rate {
        rating: i64,
        comment: Option<String>,
    },
    Note {
        body: String,
    },
    Transfer {
        to_specialist_id: Option<SpecialistId>,
        skills: Option<Vec<String>>,
        note: Option<String>,
    },
}

#[derive(Debug, Clone)]
pub struct ScheduleRequest {
    pub client_msg_id: String,
    pub body: Option<String>,
    pub attachment_id: Option<AttachmentId>,
    pub send_at: DateTime<Utc>,
}

impl SessionCommand {
    fn action(&self) -> Action {
        match self {
            SessionCommand::Send { .. } | SessionCommand::Schedule(_) => Action::Send,
            SessionCommand::Typing { .. } => Action::Typing,
            SessionCommand::Read { .. } => Action::Read,
            SessionCommand::Resume { .. } => Action::Resume,
            SessionCommand::History { .. } => Action::History,
            SessionCommand::End { .. } => Action::End,
            SessionCommand::Rate { .. } => Action::Rate,
            SessionCommand::Note { .. } => Action::Note,
            SessionCommand::Transfer { .. } => Action::Transfer,
        }
    }
}

/// From the scheduler: this session's scheduled message is due. `done` answers whether
/// it is settled (sent, cancelled, or already neither pending); `false` or a dropped
/// sender means the scheduler should try again.
#[derive(Message)]
#[rtype(result = "()")]
pub struct DeliverScheduled {
    pub id: ScheduledId,
    pub done: oneshot::Sender<bool>,
}

/// From the dispatcher: show the offer to the specialist.
#[derive(Message)]
#[rtype(result = "()")]
pub struct PresentOffer {
    pub offer_id: Uuid,
    pub specialist: SpecialistId,
    pub expires_at: DateTime<Utc>,
}

/// From the dispatcher: make `specialist` the session's specialist.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Assign {
    pub specialist: SpecialistId,
    pub specialist_name: String,
    pub reply: Option<Reply>,
}

/// From the dispatcher: the visitor has been gone too long while waiting.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Abandon;

/// From the dispatcher: the specialist went offline; back to the queue.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ReturnToQueue {
    pub specialist: SpecialistId,
}

pub struct ChatSession {
    state: AppState,
    id: SessionId,
    /// `None` until loaded, and for a session that does not exist.
    view: Option<SessionView>,
    loaded: bool,
    /// `(sender, client_msg_id) → seq` of every message sent with a client id. Looked
    /// up for every message, hence foldhash (randomly seeded, like std's SipHash).
    sent: foldhash::HashMap<(Option<Uuid>, String), i32>,
    recent: VecDeque<Message>,
    read: HashMap<(ParticipantType, Uuid), i32>,
    typing: HashMap<Uuid, SpawnHandle>,
    last_activity: Instant,
}

struct Loaded {
    view: Option<SessionView>,
    keys: Vec<(Option<Uuid>, String, i32)>,
    recent: Vec<db::messages::Named>,
    read: Vec<(ParticipantType, Uuid, i32)>,
}

impl ChatSession {
    fn new(state: AppState, id: SessionId, view: Option<SessionView>) -> Self {
        let loaded = view.is_some();
        Self {
            state,
            id,
            view,
            loaded,
            sent: foldhash::HashMap::default(),
            recent: VecDeque::new(),
            read: HashMap::new(),
            typing: HashMap::new(),
            last_activity: Instant::now(),
        }
    }

    /// Sends `msg` to the session's actor, restoring the actor from the database if it
    /// is not running. The address is used where it is stored: cloning an actix address
    /// allocates, and this runs for every frame of a conversation.
    pub fn tell<M>(state: &AppState, id: SessionId, msg: M)
    where
        M: actix::Message + Send + 'static,
        M::Result: Send,
        ChatSession: Handler<M>,
    {
        match state.registry.sessions().get(&id) {
            Some(session) => session.do_send(msg),
            None => Self::running(state, id, None).do_send(msg),
        }
    }

    /// Starts the actor of a session just created (nothing to load), unless it runs.
    pub fn start_created(state: &AppState, view: SessionView) {
        Self::running(state, view.row.id, Some(view));
    }

    /// The running actor of session `id`, started first (with `view`, or to load the
    /// session itself) when there is none.
    fn running(
        state: &AppState,
        id: SessionId,
        view: Option<SessionView>,
    ) -> dashmap::mapref::one::RefMut<'_, SessionId, Addr<ChatSession>> {
        state
            .registry
            .sessions()
            .entry(id)
            .or_insert_with(|| ChatSession::new(state.clone(), id, view).start())
    }

    fn row(&self) -> Option<&db::sessions::ChatSession> {
        self.view.as_ref().map(|v| &v.row)
    }

    fn session_for(&self, audience: Audience) -> Session {
        Session::for_audience(
            self.view.as_ref().expect("only called once loaded"),
            audience,
        )
    }

    fn visitor_peer(&self) -> Option<Peer> {
        self.row().map(|r| Peer::visitor(r.visitor_id.0))
    }

    fn specialist_peer(&self) -> Option<Peer> {
        self.row()
            .and_then(|r| r.specialist_id)
            .map(|s| Peer::specialist(s.0))
    }

    /// Sends `frame` to the connections of the visitor (unless staff-only) and of the
    /// specialist, except the connection `skip`.
    fn fan_out(&self, frame: &Frame, staff_only: bool, skip: Option<u64>) {
        let text = frame.to_text();
        if !staff_only {
            if let Some(visitor) = self.visitor_peer() {
                self.state.registry.send_to(visitor, &text, skip);
            }
        }
        if let Some(specialist) = self.specialist_peer() {
            self.state.registry.send_to(specialist, &text, skip);
        }
    }

    /// Sends a frame carrying a session object, built per audience.
    fn fan_out_session(&self, skip: Option<u64>, build: impl Fn(Session) -> Frame) {
        if let Some(visitor) = self.visitor_peer() {
            self.state.registry.send_to(
                visitor,
                &build(self.session_for(Audience::Visitor)).to_text(),
                skip,
            );
        }
        if let Some(specialist) = self.specialist_peer() {
            self.state.registry.send_to(
                specialist,
                &build(self.session_for(Audience::Staff)).to_text(),
                skip,
            );
        }
    }

    fn remember(&mut self, message: Message) {
        if let Some(key) = message.client_msg_id.clone() {
            self.sent.insert((message.sender.id, key), message.seq);
        }
        self.recent.push_back(message);
        while self.recent.len() > RECENT {
            self.recent.pop_front();
        }
    }

    fn next_seq(&self) -> i32 {
        self.row().map_or(1, |r| r.last_seq + 1)
    }

    fn apply_row(&mut self, row: db::sessions::ChatSession) {
        if let Some(view) = self.view.as_mut() {
            view.row = row;
        }
    }

    /// Runs `work` in a group-committed transaction and hands the result to `then`, with
    /// the mailbox paused until then so writes of this session never overlap.
    fn commit<T: Send + 'static>(
        &mut self,
        ctx: &mut Context<Self>,
        work: Transact<T>,
        then: impl FnOnce(&mut Self, Result<T>, &mut Context<Self>) + 'static,
    ) {
        ctx.wait(
            self.state
                .persistence
                .transact(work)
                .into_actor(self)
                .map(move |result, this, ctx| then(this, result, ctx)),
        );
    }

    fn new_row(
        &self,
        seq: i32,
        sender: &Participant,
        kind: MessageKind,
        body: String,
        client_msg_id: Option<String>,
    ) -> db::messages::Message {
        db::messages::Message {
            id: MessageId::new(),
            session_id: self.id,
            seq,
            sender_type: sender.kind,
            sender_id: sender.id,
            kind,
            body,
            attachment_id: None,
            client_msg_id,
            created_at: Utc::now(),
        }
    }

    fn handle_command(&mut self, command: Command, ctx: &mut Context<Self>) {
        let Some(row) = self.row() else {
            return command.reply.err(Error::not_found("no such session"));
        };
        let party = match access::authorize(row, &command.caller, command.action.action()) {
            Ok(party) => party,
            Err(error) => return command.reply.err(error),
        };
        let sender = Participant {
            kind: party.participant_type(),
            id: Some(command.caller.id),
            name: command.name.clone(),
        };
        match command.action {
            SessionCommand::Send {
                client_msg_id,
                body,
                attachment_id,
            } => self.send_message(
                ctx,
                command.reply,
                sender,
                client_msg_id,
                body,
                attachment_id,
            ),
            SessionCommand::Schedule(request) => {
                self.schedule(ctx, command.reply, party, sender, request)
            }
            SessionCommand::Note { body } => self.add_note(ctx, command.reply, sender, body),
            SessionCommand::Typing { is_typing } => self.typing(ctx, sender, is_typing),
            SessionCommand::Read { seq } => self.mark_read(ctx, command.reply, sender, seq),
            SessionCommand::Resume { after_seq } => {
                self.resume(ctx, command.reply, party, after_seq)
            }
            SessionCommand::History { before_seq, limit } => {
                self.history(ctx, command.reply, party, before_seq, limit)
            }
            SessionCommand::End { reason } => self.end(ctx, command.reply, sender, reason),
            SessionCommand::Rate { rating, comment } => {
                self.rate(ctx, command.reply, rating, comment)
            }
            SessionCommand::Transfer {
                to_specialist_id,
                skills,
                note,
            } => self.transfer(ctx, command.reply, sender, to_specialist_id, skills, note),
        }
    }

    fn send_message(
        &mut self,
        ctx: &mut Context<Self>,
        reply: Reply,
        sender: Participant,
        client_msg_id: Option<String>,
        body: Option<String>,
        attachment_id: Option<AttachmentId>,
    ) {
        if let Some(key) = &client_msg_id {
            if let Err(error) = check_client_msg_id(key) {
                return reply.err(error);
            }
            if let Some(seq) = self.sent.get(&(sender.id, key.clone())).copied() {
                return self.ack_again(ctx, reply, seq);
            }
        }
        if let Some(attachment_id) = attachment_id {
            return self.send_file(ctx, reply, sender, client_msg_id, body, attachment_id);
        }
        let body = match inputs::body_text(body.as_deref()) {
            Ok(body) => body,
            Err(error) => return reply.err(error),
        };
        self.append_message(ctx, reply, sender, client_msg_id, body, None);
    }

    /// Commits a text message, or a file message when `file` is given, then acks and
    /// fans it out.
    fn append_message(
        &mut self,
        ctx: &mut Context<Self>,
        reply: Reply,
        sender: Participant,
        client_msg_id: Option<String>,
        body: String,
        file: Option<db::attachments::Attachment>,
    ) {
        let kind = if file.is_some() {
            MessageKind::File
        } else {
            MessageKind::Text
        };
        let mut row = self.new_row(self.next_seq(), &sender, kind, body, client_msg_id);
        row.attachment_id = file.as_ref().map(|f| f.id);
        let first_response = sender.kind == ParticipantType::Specialist
            && self.row().is_some_and(|r| r.first_response_at.is_none());
        let mut message = Message::from_row(&row, sender.name.clone());
        message.attachment = file.as_ref().map(Attachment::from);
        let done = move |this: &mut Self,
                         result: Result<Option<db::sessions::ChatSession>>,
                         _: &mut Context<Self>| match result {
            Ok(updated) => {
                this.stored(&message, updated);
                let skip = reply.connection_id();
                let reference = reply.reference();
                reply.ok(Frame::MessageAck {
                    reference,
                    client_msg_id: message.client_msg_id.clone(),
                    message: message.clone(),
                });
                this.fan_out(&Frame::MessageNew { message }, false, skip);
            }
            Err(error) => reply.err(error),
        };
        if first_response {
            let webhooks = self.state.webhooks.clone();
            let work = Transact::new(move |conn| store_message(conn, &webhooks, &row, true));
            self.commit(ctx, work, done);
        } else {
            let appended = self.state.persistence.append(vec![row]);
            ctx.wait(
                async move { appended.await.map(|()| None) }
                    .into_actor(self)
                    .map(move |result, this, ctx| done(this, result, ctx)),
            );
        }
    }

    /// A file message. The caption may be empty; the attachment must have been uploaded
    /// to this session by the sender and not be in any message yet. The check runs inside
    /// `ctx.wait`, like the commit after it, so two sends of one file cannot both pass.
    fn send_file(
        &mut self,
        ctx: &mut Context<Self>,
        reply: Reply,
        sender: Participant,
        client_msg_id: Option<String>,
        caption: Option<String>,
        attachment_id: AttachmentId,
    ) {
        let caption = match inputs::caption_text(caption.as_deref()) {
            Ok(caption) => caption,
            Err(error) => return reply.err(error),
        };
        let id = self.id;
        let uploader = sender.id;
        let db = self.state.db.clone();
        let lookup = async move {
            db.run(move |conn| attachment_to_send(conn, id, uploader, attachment_id))
                .await
        };
        ctx.wait(
            lookup
                .into_actor(self)
                .map(move |result, this, ctx| match result {
                    Ok(file) => {
                        this.append_message(ctx, reply, sender, client_msg_id, caption, Some(file))
                    }
                    Err(error) => reply.err(error),
                }),
        );
    }

    /// Takes in a committed message: the session row its transaction changed (or just
    /// the new `last_seq`), and the recent messages resends and resumes are served from.
    fn stored(&mut self, message: &Message, updated: Option<db::sessions::ChatSession>) {
        match updated {
            Some(updated) => self.apply_row(updated),
            None => {
                if let Some(view) = self.view.as_mut() {
                    view.row.last_seq = message.seq;
                }
            }
        }
        self.remember(message.clone());
    }

    /// A resend of a message already stored: the original ack again, nothing new.
    fn ack_again(&mut self, ctx: &mut Context<Self>, reply: Reply, seq: i32) {
        if let Some(message) = self.recent.iter().find(|m| m.seq == seq).cloned() {
            let reference = reply.reference();
            return reply.ok(Frame::MessageAck {
                reference,
                client_msg_id: message.client_msg_id.clone(),
                message,
            });
        }
        let id = self.id;
        let db = self.state.db.clone();
        ctx.spawn(
            async move {
                db.run(move |conn| Ok(db::messages::page(conn, id, Page::After(seq - 1), 1, true)?))
                    .await
            }
            .into_actor(self)
            .map(move |result, _, _| {
                let found = result.and_then(|(mut page, _)| {
                    page.pop()
                        .filter(|(row, _, _)| row.seq == seq)
                        .ok_or_else(|| Error::internal("acknowledged message missing"))
                });
                reply.settle(found, |stored, reference| {
                    let message = Message::from_stored(&stored);
                    Frame::MessageAck {
                        reference,
                        client_msg_id: message.client_msg_id.clone(),
                        message,
                    }
                });
            }),
        );
    }

    /// Stores a specialist's message for later and tells the scheduler. A resend of the
    /// same request (same `client_msg_id`) answers with the row stored the first time.
    fn schedule(
        &mut self,
        ctx: &mut Context<Self>,
        reply: Reply,
        party: Party,
        sender: Participant,
        request: ScheduleRequest,
    ) {
        let ScheduleRequest {
            client_msg_id,
            body,
            attachment_id,
            send_at,
        } = request;
        if party != Party::Specialist {
            return reply.err(Error::forbidden("only specialists schedule messages"));
        }
        if let Err(error) = check_client_msg_id(&client_msg_id) {
            return reply.err(error);
        }
        let body = match attachment_id {
            Some(_) => inputs::caption_text(body.as_deref()),
            None => inputs::body_text(body.as_deref()),
        };
        let body = match body {
            Ok(body) => body,
            Err(error) => return reply.err(error),
        };
        let Some(author) = sender.id else {
            return reply.err(Error::internal("a specialist without an id"));
        };
        let id = self.id;
        let row = db::scheduled_messages::ScheduledMessage {
            id: ScheduledId::new(),
            session_id: id,
            specialist_id: SpecialistId(author),
            body,
            attachment_id,
            client_msg_id,
            // Postgres keeps microseconds: the reply shows the time as it is stored.
            send_at: send_at.trunc_subsecs(6),
            state: ScheduledState::Pending,
            created_at: Utc::now(),
            sent_at: None,
            cancelled_at: None,
            message_seq: None,
        };
        let work = Transact::new(move |conn| {
            if let Some(attachment_id) = row.attachment_id {
                // A wrong attachment is the caller's mistake: answered, not raised, so it
                // does not fail the other writes merged into this transaction.
                match attachment_to_send(conn, id, Some(author), attachment_id) {
                    Err(error) if error.code != ErrorCode::Internal => return Ok(Err(error)),
                    checked => checked?,
                };
            }
            Ok(Ok(db::scheduled_messages::insert_or_find(conn, &row)?))
        });
        self.commit(ctx, work, move |this, result, _| {
            match result.and_then(|stored| stored) {
                Ok(stored) => {
                    if stored.state == ScheduledState::Pending {
                        this.state.scheduler.do_send(Schedule {
                            id: stored.id,
                            session: id,
                            send_at: stored.send_at,
                        });
                    }
                    let reference = reply.reference();
                    reply.ok(Frame::MessageScheduled {
                        reference,
                        scheduled_id: stored.id,
                        send_at: stored.send_at,
                    });
                }
                Err(error) => reply.err(error),
            }
        });
    }

    /// Sends a due scheduled message as an ordinary message of its specialist, or
    /// cancels it when the session has ended or is no longer theirs. The message insert
    /// and the row's `sent` mark commit together, so a crash can neither lose nor repeat
    /// it; a row that is no longer pending is left alone.
    fn deliver_scheduled(&mut self, ctx: &mut Context<Self>, msg: DeliverScheduled) {
        let Some(row) = self.row() else {
            let _ = msg.done.send(true);
            return;
        };
        let id = self.id;
        let scheduled = msg.id;
        let current = row
            .specialist_id
            .filter(|_| row.status == SessionStatus::Active);
        let first_response = row.first_response_at.is_none();
        let seq = self.next_seq();
        let now = Utc::now();
        let webhooks = self.state.webhooks.clone();
        let work = Transact::new(move |conn| {
            let Some(pending) = db::scheduled_messages::lock_pending(conn, scheduled)? else {
                return Ok(Delivery::Settled);
            };
            if current != Some(pending.specialist_id) {
                db::scheduled_messages::cancel(conn, scheduled)?;
                return Ok(Delivery::Cancelled);
            }
            let file = match pending.attachment_id {
                Some(attachment_id) => {
                    let author = Some(pending.specialist_id.0);
                    match attachment_to_send(conn, id, author, attachment_id) {
                        Ok(file) => Some(file),
                        Err(error) if error.code != ErrorCode::Internal => {
                            db::scheduled_messages::cancel(conn, scheduled)?;
                            return Ok(Delivery::Cancelled);
                        }
                        Err(error) => return Err(error),
                    }
                }
                None => None,
            };
            let message = db::messages::Message {
                id: MessageId::new(),
                session_id: id,
                seq,
                sender_type: ParticipantType::Specialist,
                sender_id: Some(pending.specialist_id.0),
                kind: if file.is_some() {
                    MessageKind::File
                } else {
                    MessageKind::Text
                },
                body: pending.body.clone(),
                attachment_id: pending.attachment_id,
                // Derived from the row, so the message is recognisably this row's.
                client_msg_id: Some(format!("scheduled-{scheduled}")),
                created_at: now,
            };
            let updated = store_message(conn, &webhooks, &message, first_response)?;
            db::scheduled_messages::mark_sent(conn, scheduled, seq, now)?;
            Ok(Delivery::Sent(Box::new(SentScheduled {
                message,
                file,
                updated,
            })))
        });
        let done = msg.done;
        self.commit(ctx, work, move |this, result, _| {
            let delivery = match result {
                Ok(delivery) => delivery,
                Err(error) => {
                    log::warn!(
                        "session {id}: scheduled message {scheduled} not sent: {}",
                        error.message
                    );
                    let _ = done.send(false);
                    return;
                }
            };
            let _ = done.send(true);
            let sent = match delivery {
                Delivery::Sent(sent) => sent,
                Delivery::Cancelled => {
                    log::info!(
                        "session {id}: scheduled message {scheduled} cancelled, \
                         the session is no longer its specialist's"
                    );
                    return;
                }
                Delivery::Settled => return,
            };
            log::debug!("session {id}: scheduled message {scheduled} sent as {seq}");
            let SentScheduled {
                message: row,
                file,
                updated,
            } = *sent;
            let name = this.view.as_ref().and_then(|v| v.specialist_name.clone());
            let mut message = Message::from_row(&row, name);
            message.attachment = file.as_ref().map(Attachment::from);
            this.stored(&message, updated);
            this.fan_out(&Frame::MessageNew { message }, false, None);
        });
    }

    fn add_note(
        &mut self,
        ctx: &mut Context<Self>,
        reply: Reply,
        sender: Participant,
        body: String,
    ) {
        let body = match inputs::body_text(Some(&body)) {
            Ok(body) => body,
            Err(error) => return reply.err(error),
        };
        let row = self.new_row(self.next_seq(), &sender, MessageKind::Note, body, None);
        let message = Message::from_row(&row, sender.name.clone());
        ctx.wait(
            self.state
                .persistence
                .append(vec![row])
                .into_actor(self)
                .map(move |result, this, _| match result {
                    Ok(()) => {
                        if let Some(view) = this.view.as_mut() {
                            view.row.last_seq = message.seq;
                        }
                        this.remember(message.clone());
                        let skip = reply.connection_id();
                        let reference = reply.reference();
                        reply.ok(Frame::MessageAck {
                            reference,
                            client_msg_id: None,
                            message: message.clone(),
                        });
                        this.fan_out(&Frame::MessageNew { message }, true, skip);
                    }
                    Err(error) => reply.err(error),
                }),
        );
    }

    fn typing(&mut self, ctx: &mut Context<Self>, sender: Participant, is_typing: bool) {
        let Some(sender_id) = sender.id else { return };
        if let Some(handle) = self.typing.remove(&sender_id) {
            ctx.cancel_future(handle);
        }
        self.send_typing(&sender, is_typing);
        if is_typing {
            let handle = ctx.run_later(TYPING_EXPIRES, move |this, _| {
                this.typing.remove(&sender_id);
                this.send_typing(&sender, false);
            });
            self.typing.insert(sender_id, handle);
        }
    }

    /// Typing goes to the other participants only, never back to the typist's tabs.
    fn send_typing(&self, from: &Participant, is_typing: bool) {
        let frame = Frame::Typing {
            session_id: self.id,
            from: from.clone(),
            is_typing,
        };
        self.to_others(from, &frame);
    }

    fn to_others(&self, from: &Participant, frame: &Frame) {
        let text = frame.to_text();
        let others = [self.visitor_peer(), self.specialist_peer()];
        for peer in others.into_iter().flatten() {
            if Some(peer.id) != from.id || peer.kind != from.kind {
                self.state.registry.send_to(peer, &text, None);
            }
        }
    }

    fn mark_read(&mut self, ctx: &mut Context<Self>, reply: Reply, reader: Participant, seq: i32) {
        let Some(reader_id) = reader.id else { return };
        let last_seq = self.row().map_or(0, |r| r.last_seq);
        if seq < 1 || seq > last_seq {
            return reply.err(Error::bad_request(format!("seq: between 1 and {last_seq}")));
        }
        let key = (reader.kind, reader_id);
        if self.read.get(&key).is_some_and(|current| *current >= seq) {
            return;
        }
        let id = self.id;
        let kind = reader.kind;
        let work = Transact::new(move |conn| {
            Ok(db::read_cursors::advance(conn, id, kind, reader_id, seq)?)
        });
        self.commit(ctx, work, move |this, result, _| match result {
            Ok(()) => {
                let current = this.read.entry(key).or_insert(0);
                *current = (*current).max(seq);
                let by = Participant {
                    kind: reader.kind,
                    id: reader.id,
                    name: None,
                };
                this.to_others(
                    &reader,
                    &Frame::Read {
                        session_id: id,
                        by,
                        seq,
                    },
                );
            }
            Err(error) => reply.err(error),
        });
    }

    fn resume(&mut self, ctx: &mut Context<Self>, reply: Reply, party: Party, after_seq: i32) {
        let audience = audience_of(party);
        let session = self.session_for(audience);
        self.load_page(
            ctx,
            Page::After(after_seq.max(0)),
            RESUME_LIMIT,
            party,
            move |result, reference| {
                result.map(|(messages, has_more)| Frame::SessionState {
                    reference,
                    session,
                    messages,
                    has_more,
                })
            },
            reply,
        );
    }

    fn history(
        &mut self,
        ctx: &mut Context<Self>,
        reply: Reply,
        party: Party,
        before_seq: Option<i32>,
        limit: Option<i64>,
    ) {
        let limit = limit.unwrap_or(50);
        if !(1..=HISTORY_LIMIT).contains(&limit) {
            return reply.err(Error::bad_request(format!("limit: 1 to {HISTORY_LIMIT}")));
        }
        let before = before_seq.unwrap_or(i32::MAX);
        let session_id = self.id;
        self.load_page(
            ctx,
            Page::Before(before),
            limit,
            party,
            move |result, reference| {
                result.map(|(messages, has_more)| Frame::History {
                    reference,
                    session_id,
                    messages,
                    has_more,
                })
            },
            reply,
        );
    }

    /// A page of messages, as the given party may see them.
    fn load_messages(
        &self,
        page: Page,
        limit: i64,
        party: Party,
    ) -> impl std::future::Future<Output = Result<(Vec<Message>, bool)>> + 'static {
        let id = self.id;
        let db = self.state.db.clone();
        let with_notes = party.sees_notes();
        async move {
            let (rows, has_more) = db
                .run(move |conn| Ok(db::messages::page(conn, id, page, limit, with_notes)?))
                .await?;
            let messages = rows.iter().map(Message::from_stored).collect();
            Ok((messages, has_more))
        }
    }

    /// Reads a page of messages off the actor's critical path and replies with it.
    fn load_page(
        &mut self,
        ctx: &mut Context<Self>,
        page: Page,
        limit: i64,
        party: Party,
        frame: impl FnOnce(Result<(Vec<Message>, bool)>, Option<String>) -> Result<Frame> + 'static,
        reply: Reply,
    ) {
        ctx.spawn(self.load_messages(page, limit, party).into_actor(self).map(
            move |messages, _, _| {
                let reference = reply.reference();
                match frame(messages, reference) {
                    Ok(frame) => reply.ok(frame),
                    Err(error) => reply.err(error),
                }
            },
        ));
    }

    fn end(
        &mut self,
        ctx: &mut Context<Self>,
        reply: Reply,
        by: Participant,
        reason: Option<String>,
    ) {
        let reason = match inputs::optional_text("reason", reason.as_deref(), 500) {
            Ok(reason) => reason,
            Err(error) => return reply.err(error),
        };
        let id = self.id;
        let was = self
            .row()
            .map(|r| (r.status, r.specialist_id, r.assigned_at));
        let changes = SessionChanges {
            status: Some(SessionStatus::Ended),
            ended_at: Some(Some(Utc::now())),
            ended_by: Some(Some(by.kind)),
            ended_by_id: Some(by.id),
            end_reason: Some(reason.clone()),
            ..Default::default()
        };
        let actor = (by.kind, by.id);
        let webhooks = self.state.webhooks.clone();
        let work = Transact::new(move |conn| {
            let row = db::sessions::update(conn, id, &changes)?;
            db::events::record(
                conn,
                id,
                SessionEvent::Ended,
                Some(actor),
                serde_json::json!({}),
            )?;
            let event = WebhookEvent::SessionEnded;
            outbox::session_changed(conn, &webhooks, event, id, Some(actor))?;
            let cancelled = db::scheduled_messages::cancel_for_session(conn, id)?;
            Ok((row, cancelled))
        });
        self.commit(ctx, work, move |this, result, _| match result {
            Ok((row, cancelled)) => {
                if !cancelled.is_empty() {
                    this.state.scheduler.do_send(Forget(cancelled));
                }
                this.apply_row(row);
                let ended_by = Participant {
                    kind: by.kind,
                    id: by.id,
                    name: None,
                };
                let skip = reply.connection_id();
                let reference = reply.reference();
                let audience = if by.kind == ParticipantType::Visitor {
                    Audience::Visitor
                } else {
                    Audience::Staff
                };
                let frame = |session| Frame::SessionEnded {
                    reference: None,
                    session_id: id,
                    ended_by: ended_by.clone(),
                    reason: reason.clone(),
                    session,
                };
                this.fan_out_session(skip, frame);
                reply.ok(Frame::SessionEnded {
                    reference,
                    session_id: id,
                    ended_by: ended_by.clone(),
                    reason: reason.clone(),
                    session: this.session_for(audience),
                });
                if let Some((status, specialist, assigned_at)) = was {
                    let handled_secs =
                        assigned_at.map(|at| (Utc::now() - at).num_milliseconds() as f64 / 1000.0);
                    this.state
                        .dispatcher
                        .do_send(super::dispatcher::SessionClosed {
                            session: id,
                            specialist: specialist.filter(|_| status == SessionStatus::Active),
                            handled_secs,
                        });
                }
            }
            Err(error) => reply.err(error),
        });
    }

    fn rate(
        &mut self,
        ctx: &mut Context<Self>,
        reply: Reply,
        rating: i64,
        comment: Option<String>,
    ) {
        if !(1..=5).contains(&rating) {
            return reply.err(Error::bad_request("rating: 1 to 5"));
        }
        let comment = match inputs::optional_text("comment", comment.as_deref(), 2000) {
            Ok(comment) => comment,
            Err(error) => return reply.err(error),
        };
        let id = self.id;
        let visitor = self.row().map(|r| r.visitor_id.0);
        let rating = rating as i16;
        let changes = SessionChanges {
            rating: Some(Some(rating)),
            feedback: Some(comment),
            rated_at: Some(Some(Utc::now())),
            ..Default::default()
        };
        let webhooks = self.state.webhooks.clone();
        let work = Transact::new(move |conn| {
            let row = db::sessions::update(conn, id, &changes)?;
            let data = serde_json::json!({ "rating": rating });
            let actor = Some((ParticipantType::Visitor, visitor));
            db::events::record(conn, id, SessionEvent::Rated, actor, data)?;
            outbox::session_changed(conn, &webhooks, WebhookEvent::SessionRated, id, actor)?;
            Ok(row)
        });
        self.commit(ctx, work, move |this, result, _| match result {
            Ok(row) => {
                this.apply_row(row);
                let reference = reply.reference();
                reply.ok(Frame::SessionRated {
                    reference,
                    session_id: id,
                    rating,
                });
            }
            Err(error) => reply.err(error),
        });
    }

    fn transfer(
        &mut self,
        ctx: &mut Context<Self>,
        reply: Reply,
        by: Participant,
        to: Option<SpecialistId>,
        skills: Option<Vec<String>>,
        note: Option<String>,
    ) {
        let skills = match skills.map(|s| inputs::skills("skills", &s)).transpose() {
            Ok(skills) => skills,
            Err(error) => return reply.err(error),
        };
        let note = match inputs::optional_text("note", note.as_deref(), inputs::MAX_BODY_CHARS) {
            Ok(note) => note,
            Err(error) => return reply.err(error),
        };
        let Some(from) = self.row().and_then(|r| r.specialist_id) else {
            return;
        };
        if to == Some(from) {
            return reply.err(Error::conflict("the session is already yours"));
        }
        let dispatcher = self.state.dispatcher.clone();
        let check = async move {
            match to {
                Some(to) => dispatcher
                    .send(super::dispatcher::CheckTransferTarget(to))
                    .await
                    .unwrap_or_else(|e| Err(Error::internal(e))),
                None => Ok(()),
            }
        };
        ctx.wait(
            check
                .into_actor(self)
                .map(move |checked, this, ctx| match checked {
                    Ok(()) => this.requeue(
                        ctx,
                        Requeue::Transfer {
                            by,
                            to,
                            note,
                            reply,
                        },
                        skills,
                    ),
                    Err(error) => reply.err(error),
                }),
        );
    }

    /// Puts an active session back in the queue at priority high or above, with a
    /// system message, after a transfer or because its specialist went away.
    fn requeue(&mut self, ctx: &mut Context<Self>, why: Requeue, skills: Option<Vec<String>>) {
        let Some(row) = self.row() else { return };
        let Some(previous) = row.specialist_id else {
            return;
        };
        let id = self.id;
        let priority = if row.priority.rank() < Priority::High.rank() {
            Priority::High
        } else {
            row.priority
        };
        let system = Participant {
            kind: ParticipantType::System,
            id: None,
            name: None,
        };
        let (text, event, actor) = match &why {
            Requeue::Transfer { by, .. } => (
                "The conversation is being transferred to another specialist.",
                SessionEvent::Transferred,
                Some((by.kind, by.id)),
            ),
            Requeue::SpecialistGone => (
                "Your specialist was disconnected; connecting you to another specialist.",
                SessionEvent::Transferred,
                None,
            ),
        };
        let mut rows = vec![self.new_row(
            self.next_seq(),
            &system,
            MessageKind::System,
            text.to_owned(),
            None,
        )];
        if let Requeue::Transfer {
            by,
            note: Some(note),
            ..
        } = &why
        {
            rows.push(self.new_row(
                self.next_seq() + 1,
                by,
                MessageKind::Note,
                note.clone(),
                None,
            ));
        }
        let messages: Vec<Message> = rows
            .iter()
            .map(|row| {
                Message::from_row(
                    row,
                    (row.kind == MessageKind::Note)
                        .then(|| by_name(&why))
                        .flatten(),
                )
            })
            .collect();
        let changes = SessionChanges {
            status: Some(SessionStatus::Waiting),
            priority: Some(priority),
            skills,
            specialist_id: Some(None),
            ..Default::default()
        };
        let data = serde_json::json!({ "from": previous, "to": why.target() });
        let webhooks = self.state.webhooks.clone();
        let work = Transact::new(move |conn| {
            db::messages::insert_batch(conn, &rows)?;
            let row = db::sessions::update(conn, id, &changes)?;
            db::events::record(conn, id, event, actor, data.clone())?;
            let transferred = WebhookEvent::SessionTransferred;
            outbox::session_changed(conn, &webhooks, transferred, id, actor)?;
            outbox::messages_created(conn, &webhooks, &rows)?;
            Ok(row)
        });
        self.commit(ctx, work, move |this, result, _| {
            let (reply, target) = match why {
                Requeue::Transfer { reply, to, .. } => (Some(reply), to),
                Requeue::SpecialistGone => (None, None),
            };
            let row = match result {
                Ok(row) => row,
                Err(error) => {
                    if let Some(reply) = reply {
                        reply.err(error);
                    }
                    return;
                }
            };
            // The previous specialist still sees the hand-over messages, then loses access.
            let skip = reply.as_ref().and_then(Reply::connection_id);
            for message in &messages {
                this.remember(message.clone());
                this.fan_out(
                    &Frame::MessageNew {
                        message: message.clone(),
                    },
                    message.kind == MessageKind::Note,
                    skip,
                );
            }
            this.apply_row(row);
            if let Some(view) = this.view.as_mut() {
                view.specialist_name = None;
            }
            if let Some(visitor) = this.visitor_peer() {
                let frame = Frame::SessionTransferred {
                    reference: None,
                    session_id: id,
                };
                this.state.registry.send_to(visitor, &frame.to_text(), None);
            }
            if let Some(reply) = reply {
                let reference = reply.reference();
                reply.ok(Frame::SessionTransferred {
                    reference,
                    session_id: id,
                });
            }
            this.enqueue(Some(previous), target);
        });
    }

    /// Hands the session to the dispatcher's queue.
    fn enqueue(&self, freed: Option<SpecialistId>, target: Option<SpecialistId>) {
        let Some(view) = self.view.as_ref() else {
            return;
        };
        let mut waiting = waiting_from(&view.row);
        waiting.target = target;
        if let Some(previous) = freed {
            waiting.declined.insert(previous);
        }
        self.state.dispatcher.do_send(Enqueue {
            waiting,
            session: Session::for_audience(view, Audience::Staff),
            freed,
        });
    }
}

struct SentScheduled {
    message: db::messages::Message,
    file: Option<db::attachments::Attachment>,
    /// The session row, when the message was its first response.
    updated: Option<db::sessions::ChatSession>,
}

/// What became of a due scheduled message.
enum Delivery {
    Sent(Box<SentScheduled>),
    Cancelled,
    /// Already sent or cancelled before it came due.
    Settled,
}

enum Requeue {
    Transfer {
        by: Participant,
        to: Option<SpecialistId>,
        note: Option<String>,
        reply: Reply,
    },
    SpecialistGone,
}

impl Requeue {
    fn target(&self) -> Option<SpecialistId> {
        match self {
            Requeue::Transfer { to, .. } => *to,
            Requeue::SpecialistGone => None,
        }
    }
}

fn by_name(why: &Requeue) -> Option<String> {
    match why {
        Requeue::Transfer { by, .. } => by.name.clone(),
        Requeue::SpecialistGone => None,
    }
}

fn audience_of(party: Party) -> Audience {
    match party {
        Party::Visitor => Audience::Visitor,
        Party::Specialist | Party::Admin => Audience::Staff,
        Party::Bot => Audience::Bot,
    }
}

/// The attachment `uploader` may send in session `id`: uploaded there by them and not in
/// any message yet.
fn attachment_to_send(
    conn: &mut diesel::PgConnection,
    id: SessionId,
    uploader: Option<Uuid>,
    attachment_id: AttachmentId,
) -> Result<db::attachments::Attachment> {
    let file = db::attachments::find(conn, attachment_id)?
        .filter(|file| file.session_id == id)
        .ok_or_else(|| Error::not_found("no such attachment in this session"))?;
    if Some(file.uploaded_by) != uploader {
        return Err(Error::forbidden("only its uploader may send an attachment"));
    }
    if db::attachments::is_sent(conn, attachment_id)? {
        return Err(Error::conflict("this attachment has already been sent"));
    }
    Ok(file)
}

/// Stores one message outside the batched append, with its webhook event and, when it
/// is the specialist's first answer, the session's `first_response_at`; returns the
/// session row when it changed.
fn store_message(
    conn: &mut diesel::PgConnection,
    webhooks: &Webhooks,
    message: &db::messages::Message,
    first_response: bool,
) -> Result<Option<db::sessions::ChatSession>> {
    db::messages::insert_batch(conn, std::slice::from_ref(message))?;
    outbox::messages_created(conn, webhooks, std::slice::from_ref(message))?;
    if !first_response {
        return Ok(None);
    }
    let changes = SessionChanges {
        first_response_at: Some(Some(message.created_at)),
        ..Default::default()
    };
    Ok(Some(db::sessions::update(
        conn,
        message.session_id,
        &changes,
    )?))
}

/// The sender's key for resending a message safely: 1 to 64 characters.
fn check_client_msg_id(key: &str) -> Result<()> {
    if key.is_empty() || key.chars().count() > 64 {
        return Err(Error::bad_request("client_msg_id: 1 to 64 characters"));
    }
    Ok(())
}

/// What routing needs to know about a session row.
pub fn waiting_from(row: &db::sessions::ChatSession) -> Waiting {
    let mut waiting = Waiting::new(row.id, row.visitor_id, row.priority, row.queued_at);
    waiting.skills = row.skills.clone();
    waiting.language = row.language.clone();
    waiting
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
        let db = self.state.db.clone();
        let load = async move {
            db.run(move |conn| {
                let Some(view) = db::sessions::find_view(conn, id)? else {
                    return Ok(Loaded {
                        view: None,
                        keys: vec![],
                        recent: vec![],
                        read: vec![],
                    });
                };
                Ok(Loaded {
                    keys: db::messages::client_keys(conn, id)?,
                    recent: db::messages::page(
                        conn,
                        id,
                        Page::Before(i32::MAX),
                        RECENT as i64,
                        true,
                    )?
                    .0,
                    read: db::read_cursors::for_session(conn, id)?,
                    view: Some(view),
                })
            })
            .await
        };
        ctx.wait(
            load.into_actor(self)
                .map(move |result, this, ctx| match result {
                    Ok(loaded) => {
                        this.loaded = true;
                        this.view = loaded.view;
                        this.sent = loaded
                            .keys
                            .into_iter()
                            .map(|(sender, key, seq)| ((sender, key), seq))
                            .collect();
                        this.recent = loaded.recent.iter().map(Message::from_stored).collect();
                        this.read = loaded
                            .read
                            .into_iter()
                            .map(|(kind, id, seq)| ((kind, id), seq))
                            .collect();
                        if this.view.is_none() {
                            // Unknown id: answer what is queued with not_found, then go.
                            ctx.run_later(Duration::from_secs(1), |_, ctx| ctx.stop());
                        }
                    }
                    Err(error) => {
                        // Could not load (database away): refuse what is queued and let the next
                        // request start a fresh attempt.
                        log::warn!("session {id}: could not load: {}", error.message);
                        this.state
                            .registry
                            .sessions()
                            .remove_if(&id, |_, addr| *addr == ctx.address());
                        ctx.stop();
                    }
                }),
        );
    }

    fn stopping(&mut self, ctx: &mut Context<Self>) -> Running {
        let id = self.id;
        self.state
            .registry
            .sessions()
            .remove_if(&id, |_, addr| *addr == ctx.address());
        Running::Stop
    }
}

impl Handler<Command> for ChatSession {
    type Result = ();

    fn handle(&mut self, command: Command, ctx: &mut Context<Self>) {
        self.last_activity = Instant::now();
        if !self.loaded {
            return command
                .reply
                .err(Error::internal("session unavailable, please retry"));
        }
        self.handle_command(command, ctx);
    }
}

/// Replaces the session's tags (`session.tag`, or `PUT …/tags`).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetTags {
    pub caller: Caller,
    pub tags: Vec<String>,
    pub reply: Reply,
}

/// Archives or unarchives an ended or abandoned session; answers with the session as
/// staff see it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetArchived {
    pub caller: Caller,
    pub archived: bool,
    pub answer: tokio::sync::oneshot::Sender<Result<Session>>,
}

impl ChatSession {
    /// Why a workspace request cannot be served by this actor right now, if it cannot.
    fn workspace_unavailable(&mut self) -> Option<Error> {
        self.last_activity = Instant::now();
        if !self.loaded {
            Some(Error::internal("session unavailable, please retry"))
        } else if self.view.is_none() {
            Some(Error::not_found("no such session"))
        } else {
            None
        }
    }
}

impl Handler<SetTags> for ChatSession {
    type Result = ();

    /// Tags are stored, then the in-memory view (which every later session object is
    /// built from) takes them, then every specialist connection in the session hears of
    /// it. Inside `ctx.wait`, so two changes cannot land in the opposite order.
    fn handle(&mut self, msg: SetTags, ctx: &mut Context<Self>) {
        let SetTags {
            caller,
            tags,
            reply,
        } = msg;
        if let Some(error) = self.workspace_unavailable() {
            return reply.err(error);
        }
        // Visitors and bots are refused before their input is looked at.
        if let Err(error) = caller.require_staff() {
            return reply.err(error);
        }
        let tags = match inputs::session_tags(&tags) {
            Ok(tags) => tags,
            Err(error) => return reply.err(error),
        };
        let id = self.id;
        let db = self.state.db.clone();
        let stored = tags.clone();
        let store = async move {
            db.run(move |conn| {
                access::authorize_workspace_on(conn, id, &caller)?;
                Ok(db::session_tags::replace(conn, id, &stored)?)
            })
            .await
        };
        ctx.wait(store.into_actor(self).map(move |result, this, _| {
            if let Err(error) = result {
                return reply.err(error);
            }
            log::info!("session {id}: tags set by {:?} {}", caller.role, caller.id);
            if let Some(view) = this.view.as_mut() {
                view.tags = tags.clone();
            }
            let event = Frame::SessionTagged {
                reference: None,
                session_id: id,
                tags: tags.clone(),
            };
            this.fan_out(&event, true, reply.connection_id());
            let reference = reply.reference();
            reply.ok(Frame::SessionTagged {
                reference,
                session_id: id,
                tags,
            });
        }));
    }
}

impl Handler<SetArchived> for ChatSession {
    type Result = ();

    fn handle(&mut self, msg: SetArchived, ctx: &mut Context<Self>) {
        let SetArchived {
            caller,
            archived,
            answer,
        } = msg;
        if let Some(error) = self.workspace_unavailable() {
            let _ = answer.send(Err(error));
            return;
        }
        let id = self.id;
        let db = self.state.db.clone();
        let store = async move {
            db.run(move |conn| {
                access::authorize_workspace_on(conn, id, &caller)?;
                let at = archived.then(Utc::now);
                db::sessions::set_archived(conn, id, at)?.ok_or_else(|| {
                    Error::conflict("only an ended or abandoned session can be archived")
                })
            })
            .await
        };
        ctx.wait(store.into_actor(self).map(move |result, this, _| {
            let session = result.map(|row| {
                this.apply_row(row);
                this.session_for(Audience::Staff)
            });
            let _ = answer.send(session);
        }));
    }
}

impl Handler<DeliverScheduled> for ChatSession {
    type Result = ();

    fn handle(&mut self, msg: DeliverScheduled, ctx: &mut Context<Self>) {
        self.last_activity = Instant::now();
        if !self.loaded {
            return;
        }
        self.deliver_scheduled(ctx, msg);
    }
}

impl Handler<PresentOffer> for ChatSession {
    type Result = ();

    fn handle(&mut self, offer: PresentOffer, ctx: &mut Context<Self>) {
        let Some(view) = self.view.as_ref() else {
            return;
        };
        let mut session = Session::for_audience(view, Audience::Staff);
        session.transcript = Some(self.recent.iter().cloned().collect());
        let frame = Frame::Offer {
            offer_id: offer.offer_id,
            session,
            expires_at: offer.expires_at,
        };
        self.state
            .registry
            .send_to(Peer::specialist(offer.specialist.0), &frame.to_text(), None);
        let id = self.id;
        let persistence = self.state.persistence.clone();
        let data = serde_json::json!({ "offer_id": offer.offer_id });
        let specialist = offer.specialist;
        ctx.spawn(
            async move {
                let work = Transact::new(move |conn| {
                    let actor = Some((ParticipantType::Specialist, Some(specialist.0)));
                    Ok(db::events::record(
                        conn,
                        id,
                        SessionEvent::Offered,
                        actor,
                        data.clone(),
                    )?)
                });
                if let Err(error) = persistence.transact(work).await {
                    log::warn!("session {id}: offer not recorded: {}", error.message);
                }
            }
            .into_actor(self),
        );
    }
}

impl Handler<Assign> for ChatSession {
    type Result = ();

    fn handle(&mut self, assign: Assign, ctx: &mut Context<Self>) {
        self.last_activity = Instant::now();
        let id = self.id;
        let refused = AssignmentSettled {
            session: id,
            specialist: assign.specialist,
            ok: false,
            requeue: false,
        };
        if self.row().map(|r| r.status) != Some(SessionStatus::Waiting) {
            if let Some(reply) = assign.reply {
                reply.err(Error::conflict("the session is no longer waiting"));
            }
            return self.state.dispatcher.do_send(refused);
        }
        let specialist = assign.specialist;
        let now = Utc::now();
        let changes = SessionChanges {
            status: Some(SessionStatus::Active),
            specialist_id: Some(Some(specialist)),
            assigned_at: Some(Some(now)),
            ..Default::default()
        };
        let webhooks = self.state.webhooks.clone();
        let work = Transact::new(move |conn| {
            let row = db::sessions::update(conn, id, &changes)?;
            db::sessions::add_participant(conn, id, specialist)?;
            let actor = Some((ParticipantType::Specialist, Some(specialist.0)));
            db::events::record(
                conn,
                id,
                SessionEvent::Assigned,
                actor,
                serde_json::json!({}),
            )?;
            let assigned = WebhookEvent::SessionAssigned;
            outbox::session_changed(conn, &webhooks, assigned, id, actor)?;
            Ok(row)
        });
        let name = assign.specialist_name;
        let reply = assign.reply;
        self.commit(ctx, work, move |this, result, ctx| {
            let row = match result {
                Ok(row) => row,
                Err(error) => {
                    if let Some(reply) = reply {
                        reply.err(error);
                    }
                    return this.state.dispatcher.do_send(AssignmentSettled {
                        session: id,
                        specialist,
                        ok: false,
                        requeue: true,
                    });
                }
            };
            let waited = (now - row.queued_at).num_milliseconds() as f64 / 1000.0;
            this.apply_row(row);
            if let Some(view) = this.view.as_mut() {
                view.specialist_name = Some(name.clone());
            }
            this.state
                .dispatcher
                .do_send(super::dispatcher::Waited(waited));
            this.state.dispatcher.do_send(AssignmentSettled {
                session: id,
                specialist,
                ok: true,
                requeue: false,
            });
            let assigned = Frame::SessionAssigned {
                session_id: id,
                specialist: SessionSpecialist {
                    id: specialist,
                    name,
                },
            };
            let Some(reply) = reply else {
                return this.fan_out(&assigned, false, None);
            };
            // The acceptor gets the whole transcript first, then everyone the assignment;
            // the mailbox waits so no message of the new conversation overtakes them.
            let transcript = this.load_messages(Page::After(0), RESUME_LIMIT, Party::Specialist);
            ctx.wait(transcript.into_actor(this).map(move |result, this, _| {
                let reference = reply.reference();
                match result {
                    Ok((messages, has_more)) => reply.ok(Frame::SessionState {
                        reference,
                        session: this.session_for(Audience::Staff),
                        messages,
                        has_more,
                    }),
                    Err(error) => reply.err(error),
                }
                this.fan_out(&assigned, false, None);
            }));
        });
    }
}

impl Handler<Abandon> for ChatSession {
    type Result = ();

    fn handle(&mut self, _: Abandon, ctx: &mut Context<Self>) {
        if self.row().map(|r| r.status) != Some(SessionStatus::Waiting) {
            return;
        }
        let id = self.id;
        let changes = SessionChanges {
            status: Some(SessionStatus::Abandoned),
            ended_at: Some(Some(Utc::now())),
            ended_by: Some(Some(ParticipantType::System)),
            end_reason: Some(Some("visitor left".to_owned())),
            ..Default::default()
        };
        let webhooks = self.state.webhooks.clone();
        let work = Transact::new(move |conn| {
            let row = db::sessions::update(conn, id, &changes)?;
            let actor = Some((ParticipantType::System, None));
            db::events::record(
                conn,
                id,
                SessionEvent::Abandoned,
                actor,
                serde_json::json!({}),
            )?;
            let abandoned = WebhookEvent::SessionAbandoned;
            outbox::session_changed(conn, &webhooks, abandoned, id, actor)?;
            Ok(row)
        });
        self.commit(ctx, work, move |this, result, _| match result {
            Ok(row) => {
                log::info!("session {id} abandoned");
                this.apply_row(row);
            }
            Err(error) => log::warn!("session {id}: abandonment not stored: {}", error.message),
        });
    }
}

impl Handler<ReturnToQueue> for ChatSession {
    type Result = ();

    fn handle(&mut self, msg: ReturnToQueue, ctx: &mut Context<Self>) {
        let row = self.row();
        if row.map(|r| (r.status, r.specialist_id))
            != Some((SessionStatus::Active, Some(msg.specialist)))
        {
            return;
        }
        self.requeue(ctx, Requeue::SpecialistGone, None);
    }
}

/// A participant's client connected or dropped: tell the other side.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ParticipantPresence {
    pub participant: Participant,
    pub online: bool,
}

impl Handler<ParticipantPresence> for ChatSession {
    type Result = ();

    fn handle(&mut self, msg: ParticipantPresence, _: &mut Context<Self>) {
        if self.row().map(|r| r.status) != Some(SessionStatus::Active) {
            return;
        }
        let frame = Frame::Presence {
            session_id: self.id,
            participant: Participant {
                name: None,
                ..msg.participant.clone()
            },
            online: msg.online,
        };
        self.to_others(&msg.participant, &frame);
    }
}

/// Creates the visitor's session, or finds the open one they already have.
pub async fn start_session(
    state: &AppState,
    visitor: crate::domain::VisitorId,
    params: crate::protocol::client::SessionStart,
    user_agent: Option<String>,
) -> Result<SessionView> {
    let priority = params.priority.unwrap_or(Priority::Medium);
    if priority.rank() > Priority::Medium.rank() {
        return Err(Error::forbidden(
            "visitors may ask for priority low or medium only",
        ));
    }
    let metadata = params.metadata.unwrap_or_else(|| serde_json::json!({}));
    if !metadata.is_object() || metadata.to_string().len() > 16 * 1024 {
        return Err(Error::bad_request(
            "metadata: a JSON object of at most 16 KiB",
        ));
    }
    let language = match params.language.as_deref() {
        Some(language) => inputs::languages("language", &[language.to_owned()])?.pop(),
        None => None,
    };
    let new = db::sessions::NewChatSession {
        id: SessionId::new(),
        visitor_id: visitor,
        created_by_bot_id: None,
        idempotency_key: None,
        priority,
        intent: inputs::optional_text("intent", params.intent.as_deref(), 200)?,
        language,
        skills: inputs::skills("skills", params.skills.as_deref().unwrap_or_default())?,
        page_url: inputs::optional_text("page_url", params.page_url.as_deref(), 2000)?,
        user_agent: user_agent.map(|ua| ua.chars().take(500).collect()),
        metadata,
    };
    let webhooks = state.webhooks.clone();
    let work = Transact::new(move |conn| {
        if let Some(open) = db::sessions::open_for_visitor(conn, visitor)?.pop() {
            return Ok(open);
        }
        let row = db::sessions::insert(conn, &new)?;
        let actor = Some((ParticipantType::Visitor, Some(visitor.0)));
        db::events::record(
            conn,
            row.id,
            SessionEvent::Queued,
            actor,
            serde_json::json!({}),
        )?;
        let created = WebhookEvent::SessionCreated;
        outbox::session_changed(conn, &webhooks, created, row.id, actor)?;
        db::sessions::find_view(conn, row.id)?.ok_or_else(|| Error::internal("session vanished"))
    });
    match state.persistence.transact(work).await {
        Err(error) if error.code == crate::error::ErrorCode::Conflict => {
            // Another tab started one at the same moment: that one is ours too.
            state
                .db
                .run(move |conn| {
                    db::sessions::open_for_visitor(conn, visitor)?
                        .pop()
                        .ok_or_else(|| Error::internal("open session vanished"))
                })
                .await
        }
        other => other,
    }
}

/// After `start_session`: the visitor hears `session.started`, then the queue position.
pub fn announce_started(state: &AppState, view: SessionView, reply: Reply) {
    let reference = reply.reference();
    reply.ok(Frame::SessionStarted {
        reference,
        session: Session::for_audience(&view, Audience::Visitor),
    });
    let fresh = view.row.status == SessionStatus::Waiting
        && !state.registry.sessions().contains_key(&view.row.id);
    let id = view.row.id;
    let status = view.row.status;
    let staff_view = Session::for_audience(&view, Audience::Staff);
    let waiting = waiting_from(&view.row);
    ChatSession::start_created(state, view);
    if fresh {
        state.dispatcher.do_send(Enqueue {
            waiting,
            session: staff_view,
            freed: None,
        });
    } else if status == SessionStatus::Waiting {
        state
            .dispatcher
            .do_send(super::dispatcher::TellPosition(id));
    }
}
