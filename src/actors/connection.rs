//! WsConnection: one actor per WebSocket. It turns frames into typed requests and hands
//! them to the actor that owns the answer, enforces the frame size and rate limits, keeps
//! the heartbeat, and writes whatever the other actors queue in its bounded outbox. It
//! holds no chat state.

use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_ws::{AggregatedMessage, CloseCode, CloseReason, ProtocolError};
use chrono::Utc;
use tokio::sync::mpsc;

use super::dispatcher::{AcceptOffer, DeclineOffer, Pickup, UnwatchQueue, WatchQueue};
use super::registry::{ConnectionHandle, Outbound, Overflowed, Peer, OUTBOX_CAPACITY};
use super::reply::Reply;
use super::scheduler;
use super::session::{
    self, ChatSession, Command, ParticipantPresence, ScheduleRequest, SessionCommand, SetTags,
};
use super::specialist::{ConsoleConnected, ConsoleDisconnected, SetStatus, Specialist};
use crate::auth::Caller;
use crate::domain::{ParticipantType, Role, ScheduledId, SessionId, SpecialistId};
use crate::error::Error;
use crate::protocol::objects::Participant;
use crate::protocol::{self, Frame, Request};
use crate::routing::SpecialistState;
use crate::state::AppState;

const HEARTBEAT: Duration = Duration::from_secs(10);
const SILENCE_LIMIT: Duration = Duration::from_secs(30);
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// What the connection knows about its caller, prepared before the upgrade.
pub struct Identity {
    pub caller: Caller,
    pub name: Option<String>,
    /// For specialists: their routing profile.
    pub profile: Option<SpecialistState>,
    pub user_agent: Option<String>,
    /// Open sessions listed in `hello`, for presence notices.
    pub open_sessions: Vec<SessionId>,
}

pub struct WsConnection {
    state: AppState,
    identity: Identity,
    ws: actix_ws::Session,
    hello: Option<Frame>,
    outbox: Option<mpsc::Receiver<Outbound>>,
    handle: ConnectionHandle,
    last_heard: Instant,
    bucket: TokenBucket,
    /// Frames refused in a row for the rate limit.
    refused: u32,
}

impl WsConnection {
    pub fn new(
        state: AppState,
        identity: Identity,
        ws: actix_ws::Session,
        hello: Frame,
        ctx: &mut Context<Self>,
    ) -> Self {
        let (sender, receiver) = mpsc::channel(OUTBOX_CAPACITY);
        let rate = state.config.ws_rate_per_sec.max(1) as f64;
        Self {
            handle: ConnectionHandle::new(sender, ctx.address().recipient()),
            state,
            identity,
            ws,
            hello: Some(hello),
            outbox: Some(receiver),
            last_heard: Instant::now(),
            bucket: TokenBucket::new(rate, rate * 2.0),
            refused: 0,
        }
    }

    fn peer(&self) -> Peer {
        match self.identity.caller.role {
            Role::Visitor => Peer::visitor(self.identity.caller.id),
            _ => Peer::specialist(self.identity.caller.id),
        }
    }

    fn is_staff(&self) -> bool {
        matches!(self.identity.caller.role, Role::Specialist | Role::Admin)
    }

    fn specialist_id(&self) -> SpecialistId {
        SpecialistId(self.identity.caller.id)
    }

    fn reply(&self, reference: Option<String>) -> Reply {
        Reply::connection(self.handle.clone(), reference)
    }

    fn close(&mut self, code: CloseCode, description: &str, ctx: &mut Context<Self>) {
        let reason = CloseReason {
            code,
            description: Some(description.to_owned()),
        };
        let ws = self.ws.clone();
        ctx.spawn(
            async move {
                let _ = ws.close(Some(reason)).await;
            }
            .into_actor(self)
            .map(|_, _, ctx| ctx.stop()),
        );
    }

    fn on_text(&mut self, text: &str, ctx: &mut Context<Self>) {
        let parsed = protocol::parse(text);
        if !self.bucket.take() {
            self.refused += 1;
            if self.refused as f64 > self.bucket.capacity {
                return self.close(CloseCode::Policy, "rate limit exceeded", ctx);
            }
            return self
                .reply(parsed.reference)
                .err(Error::rate_limited("too many frames, slow down"));
        }
        self.refused = 0;
        match parsed.request {
            Ok(request) => self.on_request(parsed.reference, request, ctx),
            Err(error) => self.reply(parsed.reference).err(error),
        }
    }

    fn on_request(&mut self, reference: Option<String>, request: Request, ctx: &mut Context<Self>) {
        log::debug!(
            "{:?} {}: {}",
            self.identity.caller.role,
            self.identity.caller.id,
            request.name()
        );
        let reply = self.reply(reference);
        let staff_only = matches!(
            request,
            Request::StatusSet { .. }
                | Request::OfferAccept { .. }
                | Request::OfferDecline { .. }
                | Request::SessionTransfer { .. }
                | Request::SessionPickup { .. }
                | Request::NoteAdd { .. }
                | Request::MessageUnschedule { .. }
                | Request::QueueWatch
                | Request::QueueUnwatch
                | Request::SessionTag { .. }
        );
        let visitor_only = matches!(
            request,
            Request::SessionStart(_) | Request::SessionRate { .. }
        );
        if (staff_only && !self.is_staff())
            || (visitor_only && self.identity.caller.role != Role::Visitor)
        {
            return reply.err(Error::forbidden(format!(
                "{} is not for your role",
                request.name()
            )));
        }
        match request {
            Request::Ping => {
                let reference = reply.reference();
                reply.ok(Frame::Pong { reference });
            }
            Request::SessionStart(params) => self.start_session(params, reply, ctx),
            Request::MessageSend {
                session_id,
                client_msg_id,
                body,
                attachment_id,
                send_at,
            } => {
                let action = match send_at {
                    None => SessionCommand::Send {
                        client_msg_id: Some(client_msg_id),
                        body,
                        attachment_id,
                    },
                    Some(send_at) => {
                        if !self.is_staff() {
                            return reply
                                .err(Error::forbidden("only specialists schedule messages"));
                        }
                        if let Err(error) = scheduler::check_send_at(send_at, Utc::now()) {
                            return reply.err(error);
                        }
                        SessionCommand::Schedule(ScheduleRequest {
                            client_msg_id,
                            body,
                            attachment_id,
                            send_at,
                        })
                    }
                };
                self.command(session_id, action, reply);
            }
            Request::MessageUnschedule { scheduled_id } => {
                self.unschedule(scheduled_id, reply, ctx)
            }
            Request::Typing {
                session_id,
                is_typing,
            } => self.command(session_id, SessionCommand::Typing { is_typing }, reply),
            Request::Read { session_id, seq } => {
                self.command(session_id, SessionCommand::Read { seq }, reply)
            }
            Request::SessionResume {
                session_id,
                after_seq,
            } => self.command(session_id, SessionCommand::Resume { after_seq }, reply),
            Request::History {
                session_id,
                before_seq,
                limit,
            } => self.command(
                session_id,
                SessionCommand::History { before_seq, limit },
                reply,
            ),
            Request::SessionEnd { session_id, reason } => {
                self.command(session_id, SessionCommand::End { reason }, reply)
            }
            Request::SessionRate {
                session_id,
                rating,
                comment,
            } => self.command(session_id, SessionCommand::Rate { rating, comment }, reply),
            Request::NoteAdd { session_id, body } => {
                self.command(session_id, SessionCommand::Note { body }, reply)
            }
            Request::SessionTransfer {
                session_id,
                to_specialist_id,
                skills,
                note,
            } => {
                let action = SessionCommand::Transfer {
                    to_specialist_id,
                    skills,
                    note,
                };
                self.command(session_id, action, reply)
            }
            Request::StatusSet { status } => self.specialist().do_send(SetStatus { status, reply }),
            Request::OfferAccept { offer_id } => self.state.dispatcher.do_send(AcceptOffer {
                offer_id,
                specialist: self.specialist_id(),
                reply,
            }),
            Request::OfferDecline { offer_id } => self.state.dispatcher.do_send(DeclineOffer {
                offer_id,
                specialist: self.specialist_id(),
                reply,
            }),
            Request::SessionPickup { session_id } => self.state.dispatcher.do_send(Pickup {
                session: session_id,
                specialist: self.specialist_id(),
                reply,
            }),
            Request::QueueWatch => self.state.dispatcher.do_send(WatchQueue {
                connection: self.handle.clone(),
                reference: reply.reference(),
            }),
            Request::QueueUnwatch => self.state.dispatcher.do_send(UnwatchQueue {
                connection_id: self.handle.id,
                reply: Some(reply),
            }),
            Request::SessionTag { session_id, tags } => ChatSession::tell(
                &self.state,
                session_id,
                SetTags {
                    caller: self.identity.caller,
                    tags,
                    reply,
                },
            ),
        }
    }

    fn command(&self, session_id: SessionId, action: SessionCommand, reply: Reply) {
        ChatSession::tell(
            &self.state,
            session_id,
            Command {
                caller: self.identity.caller,
                name: self.identity.name.clone(),
                reply,
                action,
            },
        );
    }

    fn unschedule(&self, id: ScheduledId, reply: Reply, ctx: &mut Context<Self>) {
        let state = self.state.clone();
        let caller = self.identity.caller;
        ctx.spawn(
            async move { scheduler::unschedule(&state, caller, id).await }
                .into_actor(self)
                .map(move |result, _, _| {
                    reply.settle(result, |(), reference| Frame::MessageUnscheduled {
                        reference,
                        scheduled_id: id,
                    })
                }),
        );
    }

    fn specialist(&self) -> Addr<Specialist> {
        let profile = self
            .identity
            .profile
            .clone()
            .expect("staff connections carry a profile");
        Specialist::get(&self.state, profile)
    }

    fn start_session(
        &mut self,
        params: protocol::client::SessionStart,
        reply: Reply,
        ctx: &mut Context<Self>,
    ) {
        let state = self.state.clone();
        let visitor = crate::domain::VisitorId(self.identity.caller.id);
        let user_agent = self.identity.user_agent.clone();
        ctx.spawn(
            async move { session::start_session(&state, visitor, params, user_agent).await }
                .into_actor(self)
                .map(move |result, this, _| match result {
                    Ok(view) => {
                        if !this.identity.open_sessions.contains(&view.row.id) {
                            this.identity.open_sessions.push(view.row.id);
                        }
                        session::announce_started(&this.state, view, reply);
                    }
                    Err(error) => reply.err(error),
                }),
        );
    }

    /// Tells the other side of the visitor's active chats that they came or went.
    fn announce_visitor(&self, online: bool) {
        for session in &self.identity.open_sessions {
            ChatSession::tell(
                &self.state,
                *session,
                ParticipantPresence {
                    participant: Participant {
                        kind: ParticipantType::Visitor,
                        id: Some(self.identity.caller.id),
                        name: None,
                    },
                    online,
                },
            );
        }
    }
}

impl Actor for WsConnection {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let mut outbox = self.outbox.take().expect("started once");
        let mut ws = self.ws.clone();
        // The writer: frames leave in the order they were queued; a close waits for
        // everything queued before it.
        let writer = async move {
            let mut batch = Vec::new();
            while outbox.recv_many(&mut batch, OUTBOX_CAPACITY).await > 0 {
                // Let the other tasks of this thread run first: frames they queue for
                // this connection meanwhile leave in the same socket write.
                tokio::task::yield_now().await;
                while let Ok(more) = outbox.try_recv() {
                    batch.push(more);
                }
                for outbound in batch.drain(..) {
                    match outbound {
                        Outbound::Text(text) => {
                            if ws.text(text).await.is_err() {
                                return;
                            }
                        }
                        Outbound::Close(reason) => {
                            let _ = ws.close(Some(reason)).await;
                            return;
                        }
                    }
                }
            }
        };
        ctx.spawn(writer.into_actor(self).map(|_, _, ctx| ctx.stop()));
        if let Some(hello) = self.hello.take() {
            self.handle.send_frame(&hello);
        }
        let first = self
            .state
            .registry
            .connect(self.peer(), self.handle.clone());
        if self.is_staff() {
            self.specialist().do_send(ConsoleConnected);
        } else if first {
            self.announce_visitor(true);
        }
        ctx.run_interval(HEARTBEAT, |this, ctx| {
            if this.last_heard.elapsed() > SILENCE_LIMIT {
                log::debug!("connection {}: silent for too long", this.handle.id);
                return this.close(CloseCode::Away, "no heartbeat", ctx);
            }
            let mut ws = this.ws.clone();
            ctx.spawn(
                async move {
                    let _ = ws.ping(b"").await;
                }
                .into_actor(this),
            );
        });
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        let last = self.state.registry.disconnect(self.peer(), self.handle.id);
        if self.is_staff() {
            if let Some(specialist) = self.state.registry.specialists().get(&self.specialist_id()) {
                specialist.do_send(ConsoleDisconnected);
            }
            self.state.dispatcher.do_send(UnwatchQueue {
                connection_id: self.handle.id,
                reply: None,
            });
        } else if last {
            self.announce_visitor(false);
        }
    }
}

impl StreamHandler<Result<AggregatedMessage, ProtocolError>> for WsConnection {
    fn handle(&mut self, item: Result<AggregatedMessage, ProtocolError>, ctx: &mut Context<Self>) {
        self.last_heard = Instant::now();
        match item {
            Ok(AggregatedMessage::Text(text)) => self.on_text(&text, ctx),
            Ok(AggregatedMessage::Binary(_)) => self.reply(None).err(Error::bad_request(
                "binary frames are not supported; send JSON text",
            )),
            Ok(AggregatedMessage::Ping(bytes)) => {
                let mut ws = self.ws.clone();
                ctx.spawn(
                    async move {
                        let _ = ws.pong(&bytes).await;
                    }
                    .into_actor(self),
                );
            }
            Ok(AggregatedMessage::Pong(_)) => {}
            Ok(AggregatedMessage::Close(_)) => ctx.stop(),
            Err(ProtocolError::Overflow) => {
                self.close(CloseCode::Size, "frame larger than 64 KiB", ctx)
            }
            Err(error) => {
                log::debug!("connection {}: protocol error {error}", self.handle.id);
                ctx.stop();
            }
        }
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

impl Handler<Overflowed> for WsConnection {
    type Result = ();

    fn handle(&mut self, _: Overflowed, ctx: &mut Context<Self>) {
        log::info!("connection {}: too far behind, closing", self.handle.id);
        self.close(
            CloseCode::Again,
            "too far behind; reconnect and resume",
            ctx,
        );
    }
}

/// Allows `rate` frames per second on average and bursts of `capacity`.
struct TokenBucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    updated: Instant,
}

impl TokenBucket {
    fn new(rate: f64, capacity: f64) -> Self {
        Self {
            rate,
            capacity,
            tokens: capacity,
            updated: Instant::now(),
        }
    }

    fn take(&mut self) -> bool {
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.updated).as_secs_f64() * self.rate)
            .min(self.capacity);
        self.updated = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}
