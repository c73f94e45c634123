//! WsConnection: one actor per WebSocket. It turns frames into typed requests and hands
//! them to the actor that owns the answer, enforces the frame size and rate limits, keeps
//! the heartbeat, and writes whatever the other actors queue in its bounded outbox. It
//! holds no chat state.

mod opening;

use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_ws::{AggregatedMessage, CloseCode, CloseReason, ProtocolError};
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use super::connections::{Admission, ConnectionHandle, Outbound, Peer, Stalled};
use super::messages::dispatcher::{AcceptOffer, DeclineOffer, Pickup, UnwatchQueue, WatchQueue};
use super::messages::session::{Command, ParticipantPresence, SetTags};
use super::messages::specialist::{ConsoleConnected, ConsoleDisconnected, SetStatus};
use super::reply::Reply;
use super::scheduler;
use super::specialist::Specialist;
use crate::access;
use crate::auth::Caller;
use crate::conversation::SessionCommand;
use crate::domain::{inputs, ParticipantType, ScheduledId, SessionId, SpecialistId};
use crate::error::{Error, Result};
use crate::protocol::objects::Participant;
use crate::protocol::{self, Frame, Request};
use crate::routing::SpecialistState;
use crate::socket::Socket;
use crate::state::AppState;

const HEARTBEAT: Duration = Duration::from_secs(10);
const SILENCE_LIMIT: Duration = Duration::from_secs(30);
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
/// Frames the writer takes from the outbox at a time.
const WRITE_BATCH: usize = 256;
/// How long a closing connection tries to tell the peer why: a peer that does not read
/// is not waited for, and its socket is cut.
const CLOSE_WAIT: Duration = Duration::from_millis(200);
/// How long a close queued behind other frames may wait for them to be written.
const CLOSE_DEADLINE: Duration = Duration::from_millis(500);
/// The close code that asks the client to sign in again: its token expired, or its
/// account was disabled or lost the role the token was for.
pub const SIGN_IN_AGAIN: u16 = 4401;

/// What the connection knows about its caller, prepared before the upgrade.
pub struct Identity {
    pub caller: Caller,
    pub name: Option<String>,
    /// For specialists: their routing profile.
    pub profile: Option<SpecialistState>,
    pub user_agent: Option<String>,
    /// Open sessions listed in `hello`, for presence notices.
    pub open_sessions: Vec<SessionId>,
    /// When the token the connection was opened with expires: it closes then.
    pub token_expires: DateTime<Utc>,
    /// This connection's place among its identity's.
    pub admission: Admission,
}

pub struct WsConnection {
    state: AppState,
    identity: Identity,
    ws: actix_ws::Session,
    /// The socket under `ws`, cut when the peer does not take what it is sent.
    socket: Option<Socket>,
    /// Whether the socket is cut when the actor stops: the server dropped the peer, or
    /// a close is under way and the transport has not taken its frame. Otherwise the
    /// HTTP layer closes the socket once it has written what it holds.
    cut_on_stop: bool,
    hello: Option<Frame>,
    outbox: Option<mpsc::UnboundedReceiver<Outbound>>,
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
        socket: Option<Socket>,
        hello: Frame,
        ctx: &mut Context<Self>,
    ) -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        let rate = state.config.ws_rate_per_sec.max(1) as f64;
        let limit = state.config.limits.ws_outbox_bytes;
        Self {
            handle: ConnectionHandle::new(sender, ctx.address().recipient(), limit),
            state,
            identity,
            ws,
            socket,
            cut_on_stop: false,
            hello: Some(hello),
            outbox: Some(receiver),
            last_heard: Instant::now(),
            bucket: TokenBucket::new(rate, rate * 2.0),
            refused: 0,
        }
    }

    fn peer(&self) -> Peer {
        match self.identity.caller {
            Caller::Visitor(id) => Peer::visitor(id.0),
            other => Peer::specialist(other.uuid()),
        }
    }

    /// The specialist id of a staff connection.
    fn staff(&self) -> Option<SpecialistId> {
        self.identity.caller.staff()
    }

    fn reply(&self, reference: Option<String>) -> Reply {
        Reply::connection(self.handle.clone(), reference)
    }

    /// Closes the connection now: the close frame goes out if the socket takes it within
    /// [`CLOSE_WAIT`], else the socket is cut; the actor stops either way, freeing what
    /// it queued.
    fn close(&mut self, code: CloseCode, description: &str, ctx: &mut Context<Self>) {
        self.end(code, description, Ending::Polite, ctx)
    }

    /// Drops a connection whose peer stopped keeping up: the close frame goes out if the
    /// socket takes it, and the socket is cut soon after whatever the peer does, so
    /// nothing queued for it waits on it.
    fn drop_peer(&mut self, code: CloseCode, description: &str, ctx: &mut Context<Self>) {
        self.end(code, description, Ending::Cut, ctx)
    }

    fn end(&mut self, code: CloseCode, description: &str, ending: Ending, ctx: &mut Context<Self>) {
        let reason = CloseReason {
            code,
            description: Some(description.to_owned()),
        };
        let ws = self.ws.clone();
        // Until the close frame is taken, whatever stops the actor (the writer does, as
        // soon as it finds the session closing) cuts the socket.
        self.cut_on_stop = true;
        ctx.spawn(
            async move {
                let taken = tokio::time::timeout(CLOSE_WAIT, ws.close(Some(reason)))
                    .await
                    .is_ok();
                if matches!(ending, Ending::Cut) {
                    tokio::time::sleep(CLOSE_WAIT).await;
                }
                taken
            }
            .into_actor(self)
            .map(move |taken, this, ctx| {
                this.cut_on_stop = !taken || matches!(ending, Ending::Cut);
                ctx.stop()
            }),
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
        // Who may not send this kind of frame at all hears that, whatever it holds.
        let role = self.identity.caller.role();
        if let Some(Err(forbidden)) = parsed.name.map(|name| access::may_send(role, name)) {
            return self.reply(parsed.reference).err(forbidden);
        }
        match parsed.request {
            Ok(request) => self.on_request(parsed.reference, request, ctx),
            Err(error) => self.reply(parsed.reference).err(error),
        }
    }

    fn on_request(&mut self, reference: Option<String>, request: Request, ctx: &mut Context<Self>) {
        let caller = self.identity.caller;
        log::debug!("{caller}: {}", request.name());
        let reply = self.reply(reference);
        if let Err(error) = access::may_request(caller.role(), &request) {
            return reply.err(error);
        }
        let staff = self.staff();
        match request {
            Request::Ping => reply.frame(|reference| Frame::Pong { reference }),
            Request::SessionStart(params) => self.start_session(params, reply, ctx),
            Request::MessageLeave(params) => self.leave_message(params, reply, ctx),
            Request::MessageUnschedule { scheduled_id } => {
                self.unschedule(scheduled_id, reply, ctx)
            }
            Request::StatusSet { status } => {
                if let Some(specialist) = self.specialist() {
                    specialist.do_send(SetStatus { status, reply });
                }
            }
            Request::OfferAccept { offer_id } => {
                if let Some(specialist) = staff {
                    self.state.dispatcher.do_send(AcceptOffer {
                        offer_id,
                        specialist,
                        reply,
                    });
                }
            }
            Request::OfferDecline { offer_id } => {
                if let Some(specialist) = staff {
                    self.state.dispatcher.do_send(DeclineOffer {
                        offer_id,
                        specialist,
                        reply,
                    });
                }
            }
            Request::SessionPickup { session_id } => {
                if let Some(specialist) = staff {
                    self.state.dispatcher.do_send(Pickup {
                        session: session_id,
                        specialist,
                        name: self.identity.name.clone(),
                        reply,
                    });
                }
            }
            Request::QueueWatch => self.state.dispatcher.do_send(WatchQueue {
                connection: self.handle.clone(),
                reference: reply.reference(),
            }),
            Request::QueueUnwatch => self.state.dispatcher.do_send(UnwatchQueue {
                connection_id: self.handle.id,
                reply: Some(reply),
            }),
            Request::SessionTag { session_id, tags } => match inputs::session_tags(&tags) {
                Ok(tags) => self.state.sessions.tell(
                    session_id,
                    SetTags {
                        caller,
                        tags,
                        reply,
                    },
                ),
                Err(error) => reply.err(error),
            },
            session_request => match SessionCommand::parse(session_request) {
                Ok((session_id, command)) => self.command(session_id, command, reply),
                Err(error) => reply.err(error),
            },
        }
    }

    pub(super) fn command(&self, session_id: SessionId, command: SessionCommand, reply: Reply) {
        self.state.sessions.tell(
            session_id,
            Command {
                caller: self.identity.caller,
                name: self.identity.name.clone(),
                reply,
                command,
            },
        );
    }

    fn unschedule(&self, id: ScheduledId, reply: Reply, ctx: &mut Context<Self>) {
        let state = self.state.clone();
        let caller = self.identity.caller;
        ctx.spawn(
            async move { scheduler::unschedule(&state.db, &state.scheduler, caller, id).await }
                .into_actor(self)
                .map(move |result, _, _| match result {
                    Ok(()) => reply.frame(|reference| Frame::MessageUnscheduled {
                        reference,
                        scheduled_id: id,
                    }),
                    Err(error) => reply.err(error),
                }),
        );
    }

    /// The specialist's actor (staff connections carry their routing profile).
    fn specialist(&self) -> Option<Addr<Specialist>> {
        let profile = self.identity.profile.clone()?;
        Some(self.state.specialists.get_or_start(profile))
    }

    /// Tells the other side of the visitor's active chats that they came or went.
    fn announce_visitor(&self, online: bool) {
        for session in &self.identity.open_sessions {
            self.state.sessions.tell(
                *session,
                ParticipantPresence {
                    participant: Participant {
                        kind: ParticipantType::Visitor,
                        id: Some(self.identity.caller.uuid()),
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
        let handle = self.handle.clone();
        // The writer: frames leave in the order they were queued; a close waits for
        // everything queued before it.
        let writer = async move {
            let mut batch = Vec::new();
            while outbox.recv_many(&mut batch, WRITE_BATCH).await > 0 {
                // Let the other tasks of this thread run first: frames they queue for
                // this connection meanwhile leave in the same socket write.
                tokio::task::yield_now().await;
                while let Ok(more) = outbox.try_recv() {
                    batch.push(more);
                }
                for outbound in batch.drain(..) {
                    match outbound {
                        Outbound::Text(text) => {
                            let len = text.len();
                            if ws.text(text).await.is_err() {
                                return Written::Stopped;
                            }
                            handle.written(len);
                        }
                        Outbound::Close(reason) => {
                            let closing = ws.close(Some(reason));
                            return match tokio::time::timeout(CLOSE_WAIT, closing).await {
                                Ok(_) => Written::Stopped,
                                Err(_) => Written::CloseNotTaken,
                            };
                        }
                    }
                }
            }
            Written::Stopped
        };
        ctx.spawn(writer.into_actor(self).map(|written, this, ctx| {
            if matches!(written, Written::CloseNotTaken) {
                this.cut_on_stop = true;
            }
            ctx.stop()
        }));
        if let Some(hello) = self.hello.take() {
            self.handle.send_frame(&hello);
        }
        let token_left = (self.identity.token_expires - Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO);
        ctx.run_later(token_left, |this, ctx| {
            this.close(CloseCode::Other(SIGN_IN_AGAIN), "token expired", ctx)
        });
        let first = self
            .state
            .connections
            .connect(self.peer(), self.handle.clone());
        if let Some(specialist) = self.specialist() {
            specialist.do_send(ConsoleConnected);
        } else if first {
            self.announce_visitor(true);
        }
        ctx.run_interval(HEARTBEAT, |this, ctx| {
            if this.last_heard.elapsed() > SILENCE_LIMIT {
                log::debug!("connection {}: silent for too long", this.handle.id);
                return this.drop_peer(CloseCode::Away, "no heartbeat", ctx);
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
        if let Some(socket) = self.socket.as_ref().filter(|_| self.cut_on_stop) {
            socket.cut();
        }
        let last = self
            .state
            .connections
            .disconnect(self.peer(), self.handle.id);
        if let Some(id) = self.staff() {
            if let Some(specialist) = self.state.specialists.get(id) {
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

impl Handler<Stalled> for WsConnection {
    type Result = ();

    fn handle(&mut self, stalled: Stalled, ctx: &mut Context<Self>) {
        match stalled {
            Stalled::Overflowed => {
                log::info!("connection {}: too far behind, dropping it", self.handle.id);
                self.drop_peer(
                    CloseCode::Again,
                    "too far behind; reconnect and resume",
                    ctx,
                )
            }
            // The writer stops the actor once it has sent the close; if the frames before
            // it are still waiting on the peer by then, the peer is not waited for.
            Stalled::Closing(reason) => {
                ctx.run_later(CLOSE_DEADLINE, move |this, ctx| {
                    let description = reason.description.as_deref().unwrap_or_default();
                    this.drop_peer(reason.code, description, ctx)
                });
            }
        }
    }
}

/// How a connection the server closes ends.
#[derive(Clone, Copy)]
enum Ending {
    /// The close frame, and the socket cut only if the transport does not take it in
    /// time.
    Polite,
    /// The close frame if the transport takes it, then the socket cut regardless: as
    /// soon as the writer stops, or [`CLOSE_WAIT`] later.
    Cut,
}

/// How the writer ended.
enum Written {
    /// The outbox or the session closed, or the close frame was taken.
    Stopped,
    /// The transport did not take the close frame in time: the peer is not reading.
    CloseNotTaken,
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
