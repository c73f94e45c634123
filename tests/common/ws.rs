//! A WebSocket client for tests, speaking SPEC section 4 to a real server.
//!
//! Each connection is pumped by a background task that answers the server's pings (so
//! the heartbeat never closes an idle test connection) and turns frames into JSON values.
//! Frames arrive asynchronously and interleave (presence, queue updates, typing…), so
//! the client keeps what a test did not ask for yet in a buffer: `recv_type("x")` skips
//! other frames without losing them, and a later `recv_type("y")` still finds them.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::pin::pin;
use std::time::Duration;

use awc::error::WsClientError;
use awc::ws::{CloseCode, CloseReason, Frame, Message};
use futures_util::future::{select, Either};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use serde_json::{json, Value};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::time::Instant;

use super::TestApp;

/// How long `recv` and friends wait before the test fails.
pub const RECV_TIMEOUT: Duration = Duration::from_secs(5);

/// Frames the server sends may be much larger than what it accepts (a `session.state`
/// carries up to 500 messages).
const MAX_INCOMING_FRAME: usize = 16 * 1024 * 1024;

/// A running server a test can talk to: in-process ([`TestApp`]) or a child process
/// (`process::ServerProcess`), with the identities every conversation needs.
pub trait Server {
    /// `http://127.0.0.1:PORT` (or `https://…` through a TLS-terminating proxy)
    fn address(&self) -> &str;
    /// The client WebSockets connect with; behind TLS, one that trusts the certificate.
    fn client(&self) -> awc::Client {
        awc::Client::builder()
            .timeout(Duration::from_secs(10))
            .finish()
    }
    /// Creates a specialist with the given profile (skills, languages,
    /// max_concurrent_chats, and `role: "admin"` for an admin); returns (id, token).
    async fn new_specialist(&self, email: &str, profile: Value) -> (String, String);
    /// Creates a visitor; returns (id, token).
    async fn new_visitor(&self, name: &str) -> (String, String);
}

impl Server for TestApp {
    fn address(&self) -> &str {
        &self.address
    }

    async fn new_specialist(&self, email: &str, profile: Value) -> (String, String) {
        let admin = self.admin_token().await;
        self.specialist(&admin, email, profile).await
    }

    async fn new_visitor(&self, name: &str) -> (String, String) {
        self.visitor(name).await
    }
}

/// What the pump task reports.
enum Event {
    Frame(Value),
    Closed(u16),
}

pub struct WsClient {
    outgoing: UnboundedSender<Message>,
    incoming: UnboundedReceiver<Event>,
    /// Frames received but not yet asked for, oldest first.
    buffered: VecDeque<Value>,
    close_code: Option<u16>,
    next_ref: u64,
    /// The `hello` frame the server greeted this connection with.
    pub hello: Value,
}

/// Close code reported when the connection ended without a close frame.
pub const ABNORMAL_CLOSURE: u16 = 1006;

impl WsClient {
    /// Connects with a token and waits for `hello`.
    pub async fn connect(server: &impl Server, token: &str) -> WsClient {
        match Self::try_connect(server, Some(token)).await {
            Ok(client) => client,
            Err(status) => panic!("WebSocket upgrade refused with HTTP {status}"),
        }
    }

    /// Connects and waits for `hello`, or returns the HTTP status of a refused upgrade.
    pub async fn try_connect(server: &impl Server, token: Option<&str>) -> Result<WsClient, u16> {
        let mut url = format!("{}/ws", server.address().replacen("http", "ws", 1));
        if let Some(token) = token {
            url.push_str("?token=");
            url.push_str(token);
        }
        let connected = server
            .client()
            .ws(url)
            .max_frame_size(MAX_INCOMING_FRAME)
            .connect()
            .await;
        let socket = match connected {
            Ok((_, socket)) => socket,
            Err(WsClientError::InvalidResponseStatus(status)) => return Err(status.as_u16()),
            Err(error) => panic!("WebSocket connect failed: {error}"),
        };
        let (outgoing, outgoing_rx) = unbounded_channel();
        let (incoming_tx, incoming) = unbounded_channel();
        actix_web::rt::spawn(pump(socket, outgoing_rx, incoming_tx));
        let mut client = WsClient {
            outgoing,
            incoming,
            buffered: VecDeque::new(),
            close_code: None,
            next_ref: 0,
            hello: Value::Null,
        };
        client.hello = client.recv_type("hello").await;
        Ok(client)
    }

    /// The HTTP status of an upgrade attempt: 101 when it was accepted.
    pub async fn upgrade_status(server: &impl Server, token: Option<&str>) -> u16 {
        match Self::try_connect(server, token).await {
            Ok(_) => 101,
            Err(status) => status,
        }
    }

    /// The caller's own id, from `hello.me`.
    pub fn me(&self) -> String {
        self.hello["me"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("hello without me.id: {}", self.hello))
            .to_owned()
    }

    pub fn send(&mut self, frame: Value) {
        self.send_raw(&frame.to_string());
    }

    /// Sends any text, JSON or not. Never fails: after the server closed the connection
    /// the text is dropped, and `closed()` tells what happened.
    pub fn send_raw(&mut self, text: &str) {
        let _ = self.outgoing.send(Message::Text(text.to_owned().into()));
    }

    /// The next frame of any type.
    pub async fn recv(&mut self) -> Value {
        self.recv_where("any frame", RECV_TIMEOUT, |_| true).await
    }

    /// The next frame of this type; frames of other types stay buffered.
    pub async fn recv_type(&mut self, kind: &str) -> Value {
        self.recv_type_within(kind, RECV_TIMEOUT).await
    }

    pub async fn recv_type_within(&mut self, kind: &str, timeout: Duration) -> Value {
        self.recv_where(&format!("a `{kind}` frame"), timeout, |frame| {
            frame["type"] == kind
        })
        .await
    }

    /// The next frame `wanted` accepts; other frames stay buffered.
    pub async fn recv_where(
        &mut self,
        what: &str,
        timeout: Duration,
        wanted: impl Fn(&Value) -> bool,
    ) -> Value {
        if let Some(i) = self.buffered.iter().position(&wanted) {
            return self.buffered.remove(i).expect("position is in range");
        }
        let deadline = Instant::now() + timeout;
        loop {
            match self.next_event(deadline).await {
                Some(Event::Frame(frame)) if wanted(&frame) => return frame,
                Some(Event::Frame(frame)) => self.buffered.push_back(frame),
                Some(Event::Closed(code)) => panic!(
                    "connection closed with {code} while waiting for {what}; unread: {:?}",
                    self.buffered
                ),
                None => panic!("no {what} within {timeout:?}; unread: {:?}", self.buffered),
            }
        }
    }

    /// Sends a request (adding a `ref` when it has none) and returns the one frame
    /// carrying that `ref`: the reply or an `error`.
    pub async fn request(&mut self, frame: Value) -> Value {
        self.request_within(frame, RECV_TIMEOUT).await
    }

    pub async fn request_within(&mut self, mut frame: Value, timeout: Duration) -> Value {
        let reference = match frame.get("ref").and_then(Value::as_str) {
            Some(reference) => reference.to_owned(),
            None => {
                self.next_ref += 1;
                let reference = format!("r{}", self.next_ref);
                frame["ref"] = json!(reference);
                reference
            }
        };
        let what = format!("the reply to {frame}");
        self.send(frame);
        self.recv_where(&what, timeout, |reply| reply["ref"] == reference.as_str())
            .await
    }

    /// A request whose reply must have this type (not an `error`).
    pub async fn expect_reply(&mut self, frame: Value, reply_type: &str) -> Value {
        let reply = self.request(frame.clone()).await;
        assert_eq!(
            reply["type"], reply_type,
            "unexpected reply to {frame}: {reply}"
        );
        reply
    }

    /// Asserts that no frame of this type arrives (or is already buffered) within the
    /// given time; other frames stay buffered.
    pub async fn expect_no(&mut self, kind: &str, within_ms: u64) {
        if let Some(frame) = self.buffered.iter().find(|f| f["type"] == kind) {
            panic!("expected no `{kind}` frame, got {frame}");
        }
        let deadline = Instant::now() + Duration::from_millis(within_ms);
        loop {
            match self.next_event(deadline).await {
                Some(Event::Frame(frame)) if frame["type"] == kind => {
                    panic!("expected no `{kind}` frame, got {frame}")
                }
                Some(Event::Frame(frame)) => self.buffered.push_back(frame),
                Some(Event::Closed(_)) | None => return,
            }
        }
    }

    /// Reads until the server closes the connection and returns the close code
    /// ([`ABNORMAL_CLOSURE`] when the connection just dropped). Frames read on the way
    /// stay buffered.
    pub async fn closed(&mut self) -> u16 {
        self.closed_within(Duration::from_secs(10)).await
    }

    pub async fn closed_within(&mut self, timeout: Duration) -> u16 {
        let deadline = Instant::now() + timeout;
        loop {
            match self.next_event(deadline).await {
                Some(Event::Frame(frame)) => self.buffered.push_back(frame),
                Some(Event::Closed(code)) => return code,
                None => panic!(
                    "connection still open after {timeout:?}; unread: {:?}",
                    self.buffered
                ),
            }
        }
    }

    /// Takes every buffered frame, oldest first.
    pub fn take_buffered(&mut self) -> Vec<Value> {
        self.buffered.drain(..).collect()
    }

    /// Closes the connection from the client side (code 1000) and waits until the
    /// server has seen it.
    pub async fn disconnect(mut self) {
        let _ = self
            .outgoing
            .send(Message::Close(Some(CloseCode::Normal.into())));
        let deadline = Instant::now() + Duration::from_secs(5);
        while let Some(Event::Frame(_)) = self.next_event(deadline).await {}
    }

    /// The next event from the pump, or None at the deadline. Once closed, keeps
    /// reporting the close.
    async fn next_event(&mut self, deadline: Instant) -> Option<Event> {
        if let Some(code) = self.close_code {
            return Some(Event::Closed(code));
        }
        let event = match tokio::time::timeout_at(deadline, self.incoming.recv()).await {
            Err(_) => return None,
            Ok(Some(event)) => event,
            Ok(None) => Event::Closed(ABNORMAL_CLOSURE),
        };
        if let Event::Closed(code) = event {
            self.close_code = Some(code);
        }
        Some(event)
    }

    // Conversation steps that many tests share.

    /// `session.start` with extra fields; returns the session.
    pub async fn start_session(&mut self, extra: Value) -> Value {
        let mut frame = json!({"type": "session.start"});
        merge(&mut frame, extra);
        self.expect_reply(frame, "session.started").await["session"].clone()
    }

    pub async fn set_status(&mut self, status: &str) {
        let reply = self
            .expect_reply(json!({"type": "status.set", "status": status}), "status")
            .await;
        assert_eq!(reply["status"], status);
    }

    pub async fn go_online(&mut self) {
        self.set_status("online").await;
    }

    /// Waits for the next offer and accepts it; returns the `session.state` reply.
    pub async fn accept_next_offer(&mut self) -> Value {
        let offer = self.recv_type("offer").await;
        self.accept(&offer).await
    }

    pub async fn accept(&mut self, offer: &Value) -> Value {
        self.expect_reply(
            json!({"type": "offer.accept", "offer_id": offer["offer_id"]}),
            "session.state",
        )
        .await
    }

    pub async fn decline(&mut self, offer: &Value) {
        self.expect_reply(
            json!({"type": "offer.decline", "offer_id": offer["offer_id"]}),
            "offer.declined",
        )
        .await;
    }

    /// Sends a text message and returns the acknowledged message.
    pub async fn say(&mut self, session_id: &str, body: &str) -> Value {
        let client_msg_id = uuid::Uuid::new_v4().to_string();
        self.expect_reply(
            json!({"type": "message.send", "session_id": session_id,
                   "client_msg_id": client_msg_id, "body": body}),
            "message.ack",
        )
        .await["message"]
            .clone()
    }

    pub async fn end_session(&mut self, session_id: &str) -> Value {
        self.expect_reply(
            json!({"type": "session.end", "session_id": session_id}),
            "session.ended",
        )
        .await
    }
}

/// Asserts that a frame is an `error` with one of these codes.
pub fn assert_error(frame: &Value, codes: &[&str]) {
    assert_eq!(frame["type"], "error", "expected an error, got {frame}");
    assert!(
        codes.iter().any(|code| frame["code"] == *code),
        "expected an error coded {codes:?}, got {frame}"
    );
}

/// Adds the fields of `extra` (an object) to `frame`.
pub fn merge(frame: &mut Value, extra: Value) {
    if let (Some(frame), Value::Object(extra)) = (frame.as_object_mut(), extra) {
        frame.extend(extra);
    }
}

/// A visitor and a specialist in an active conversation, each with one connection.
pub struct Chat {
    pub session_id: String,
    pub visitor: WsClient,
    pub visitor_id: String,
    pub visitor_token: String,
    pub specialist: WsClient,
    pub specialist_id: String,
    pub specialist_token: String,
}

impl Chat {
    /// Opens a conversation; works with offers and with `--auto-accept true`.
    pub async fn open(server: &impl Server) -> Chat {
        let (specialist_id, specialist_token) =
            server.new_specialist("sam@example.com", json!({})).await;
        let (visitor_id, visitor_token) = server.new_visitor("Vera").await;
        let mut specialist = WsClient::connect(server, &specialist_token).await;
        specialist.go_online().await;
        let mut visitor = WsClient::connect(server, &visitor_token).await;
        let session = visitor.start_session(json!({})).await;
        let session_id = session["id"].as_str().expect("session id").to_owned();

        let first = specialist
            .recv_where("an offer or an assignment", RECV_TIMEOUT, |frame| {
                frame["type"] == "offer" || frame["type"] == "session.assigned"
            })
            .await;
        if first["type"] == "offer" {
            specialist.accept(&first).await;
            specialist.recv_type("session.assigned").await;
        }
        let assigned = visitor.recv_type("session.assigned").await;
        assert_eq!(assigned["session_id"], session_id.as_str());
        assert_eq!(assigned["specialist"]["id"], specialist_id.as_str());
        Chat {
            session_id,
            visitor,
            visitor_id,
            visitor_token,
            specialist,
            specialist_id,
            specialist_token,
        }
    }

    /// The specialist hands the chat on to a new colleague (`email`), who is online and
    /// accepts it; returns the colleague's console.
    pub async fn transfer_to_new(&mut self, server: &impl Server, email: &str) -> WsClient {
        let (id, token) = server.new_specialist(email, json!({})).await;
        let mut colleague = WsClient::connect(server, &token).await;
        colleague.go_online().await;
        self.specialist
            .expect_reply(
                json!({"type": "session.transfer", "session_id": self.session_id,
                       "to_specialist_id": id}),
                "session.transferred",
            )
            .await;
        colleague.accept_next_offer().await;
        colleague
    }
}

/// Moves frames between the socket and the client's channels until either side ends.
async fn pump<S, E>(
    mut socket: S,
    mut outgoing: UnboundedReceiver<Message>,
    incoming: UnboundedSender<Event>,
) where
    S: Stream<Item = Result<Frame, E>> + Sink<Message> + Unpin,
    E: std::fmt::Display,
{
    enum Step {
        Read(Option<Result<Frame, String>>),
        Write(Option<Message>),
    }
    loop {
        let step = {
            let write = pin!(outgoing.recv());
            match select(socket.next(), write).await {
                Either::Left((frame, _)) => Step::Read(frame.map(|r| r.map_err(|e| e.to_string()))),
                Either::Right((message, _)) => Step::Write(message),
            }
        };
        match step {
            Step::Read(Some(Ok(Frame::Text(bytes)))) => {
                let frame = serde_json::from_slice(&bytes).unwrap_or_else(
                    |_| json!({"type": "<not json>", "raw": String::from_utf8_lossy(&bytes)}),
                );
                let _ = incoming.send(Event::Frame(frame));
            }
            Step::Read(Some(Ok(Frame::Ping(payload)))) => {
                let _ = socket.send(Message::Pong(payload)).await;
            }
            Step::Read(Some(Ok(Frame::Close(reason)))) => {
                let code = reason.as_ref().map_or(1005, |r| u16::from(r.code));
                let _ = socket.send(Message::Close(reason)).await;
                let _ = incoming.send(Event::Closed(code));
                return;
            }
            Step::Read(Some(Ok(_))) => {}
            Step::Read(Some(Err(_)) | None) => {
                let _ = incoming.send(Event::Closed(ABNORMAL_CLOSURE));
                return;
            }
            Step::Write(Some(message)) => {
                // A failed write means the server is gone; the read side reports how.
                let _ = socket.send(message).await;
            }
            Step::Write(None) => {
                let reason = CloseReason::from(CloseCode::Normal);
                let _ = socket.send(Message::Close(Some(reason))).await;
                return;
            }
        }
    }
}
