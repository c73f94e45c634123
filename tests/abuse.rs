//! Abuse resistance (SPEC section 12): a hostile or broken client gets a clear error, or
//! loses its own connection, while everyone else carries on.

mod common;

use std::time::Duration;

use common::ws::{assert_error, Chat, Server, WsClient};
use common::TestApp;
use serde_json::{json, Value};
use switchboard::auth::Claims;
use switchboard::domain::Role;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn seqs(messages: &Value) -> Vec<i64> {
    messages
        .as_array()
        .expect("an array of messages")
        .iter()
        .map(|m| m["seq"].as_i64().expect("seq"))
        .collect()
}

fn send(session_id: &str, client_msg_id: &str, body: &str) -> Value {
    json!({"type": "message.send", "session_id": session_id,
           "client_msg_id": client_msg_id, "body": body})
}

#[actix_web::test]
async fn a_nul_in_a_message_id_or_in_metadata_is_a_bad_request_not_an_internal_error() {
    let app = TestApp::spawn().await;
    let mut chat = Chat::open(&app).await;
    let refused = chat
        .visitor
        .request(send(&chat.session_id, "a\u{0}b", "hello"))
        .await;
    assert_error(&refused, &["bad_request"]);
    let acked = chat.visitor.say(&chat.session_id, "still here").await;
    assert_eq!(acked["seq"], 1, "the refused message took no seq");

    let (_, token) = app.new_visitor("Nul").await;
    let mut stranger = WsClient::connect(&app, &token).await;
    let refused = stranger
        .request(json!({"type": "session.start", "metadata": {"note": "a\u{0}b"}}))
        .await;
    assert_error(&refused, &["bad_request"]);
}

#[actix_web::test]
async fn a_visitor_cannot_open_more_sockets_than_the_limit() {
    let app = TestApp::spawn_with(&["--visitor-connections", "3"]).await;
    let (_, token) = app.new_visitor("Many").await;
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(WsClient::connect(&app, &token).await);
    }
    assert_eq!(WsClient::upgrade_status(&app, Some(&token)).await, 429);
    // Another visitor is not affected, and a closed socket frees its place.
    let (_, other) = app.new_visitor("Other").await;
    assert_eq!(WsClient::upgrade_status(&app, Some(&other)).await, 101);
    open.pop().expect("a socket").disconnect().await;
    let mut again = 0;
    for _ in 0..50 {
        again = WsClient::upgrade_status(&app, Some(&token)).await;
        if again == 101 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(again, 101);
}

/// An admin disables the specialist.
async fn disable(app: &TestApp, specialist_id: &str) {
    let admin = app.admin_token().await;
    let (status, body) = app
        .call(
            "PATCH",
            &format!("/api/v1/specialists/{specialist_id}"),
            Some(&admin),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

#[actix_web::test]
async fn a_disabled_specialists_console_closes_and_their_chat_goes_back_to_the_queue() {
    let app = TestApp::spawn().await;
    let mut chat = Chat::open(&app).await;
    let (_, colleague_token) = app.new_specialist("kim@example.com", json!({})).await;
    let mut colleague = WsClient::connect(&app, &colleague_token).await;
    colleague.go_online().await;

    disable(&app, &chat.specialist_id).await;
    assert_eq!(
        chat.specialist.closed_within(Duration::from_secs(1)).await,
        4401
    );
    let offer = colleague.recv_type("offer").await;
    assert_eq!(offer["session"]["id"], chat.session_id.as_str());
    assert_eq!(
        WsClient::upgrade_status(&app, Some(&chat.specialist_token)).await,
        401
    );
}

#[actix_web::test]
async fn a_demoted_admins_sockets_close() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (id, token) = app
        .specialist(&admin, "ada@example.com", json!({"role": "admin"}))
        .await;
    let mut console = WsClient::connect(&app, &token).await;
    let (status, _) = app
        .call(
            "PATCH",
            &format!("/api/v1/specialists/{id}"),
            Some(&admin),
            Some(json!({"role": "specialist"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(console.closed_within(Duration::from_secs(1)).await, 4401);
}

#[actix_web::test]
async fn a_socket_closes_when_its_token_expires() {
    let app = TestApp::spawn().await;
    let (id, _) = app.new_visitor("Brief").await;
    let now = chrono::Utc::now().timestamp();
    let token = app
        .app_state
        .tokens
        .encode(&Claims {
            sub: id.parse().expect("a uuid"),
            role: Role::Visitor,
            iat: now,
            exp: now + 2,
        })
        .expect("a token");
    let mut widget = WsClient::connect(&app, &token).await;
    assert_eq!(widget.closed_within(Duration::from_secs(4)).await, 4401);
}

#[actix_web::test]
async fn a_long_reply_is_cut_to_the_byte_limit_with_has_more() {
    let app = TestApp::spawn_with(&["--ws-reply-bytes", "8000"]).await;
    let mut chat = Chat::open(&app).await;
    let long = "x".repeat(3000);
    for _ in 0..6 {
        chat.visitor.say(&chat.session_id, &long).await;
    }
    let state = chat
        .visitor
        .expect_reply(
            json!({"type": "session.resume", "session_id": chat.session_id, "after_seq": 0}),
            "session.state",
        )
        .await;
    assert_eq!(seqs(&state["messages"]), vec![1, 2]);
    assert_eq!(state["has_more"], true);
    let history = chat
        .visitor
        .expect_reply(
            json!({"type": "history", "session_id": chat.session_id, "limit": 50}),
            "history",
        )
        .await;
    assert_eq!(seqs(&history["messages"]), vec![5, 6]);
    assert_eq!(history["has_more"], true);
}

#[actix_web::test]
async fn the_queue_snapshot_lists_a_bounded_number_with_the_true_total() {
    let app = TestApp::spawn_with(&["--queue-list-max", "2"]).await;
    let mut visitors = Vec::new();
    for i in 0..4 {
        let (_, token) = app.new_visitor(&format!("V{i}")).await;
        let mut visitor = WsClient::connect(&app, &token).await;
        visitor.start_session(json!({})).await;
        visitors.push(visitor);
    }
    let (_, token) = app.new_specialist("sam@example.com", json!({})).await;
    let mut console = WsClient::connect(&app, &token).await;
    let snapshot = console
        .expect_reply(json!({"type": "queue.watch"}), "queue.snapshot")
        .await;
    assert_eq!(snapshot["waiting"].as_array().unwrap().len(), 2);
    assert_eq!(snapshot["total"], 4);
    let (status, queue) = app.get("/api/v1/queue", &token).await;
    assert_eq!(status, 200);
    assert_eq!(queue["waiting"].as_array().unwrap().len(), 2);
    assert_eq!(queue["length"], 4);
}

#[actix_web::test]
async fn http_message_posting_is_rate_limited_per_caller() {
    let app = TestApp::spawn_with(&["--http-messages-per-minute", "3"]).await;
    let admin = app.admin_token().await;
    let (_, bot) = app.bot(&admin, "Intake bot").await;
    let (status, created) = app
        .post(
            "/api/v1/sessions",
            &bot,
            json!({"visitor": {"external_id": "v-1"}}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let path = format!(
        "/api/v1/sessions/{}/messages",
        created["session"]["id"].as_str().unwrap()
    );
    for i in 0..3 {
        let (status, body) = app
            .post(&path, &bot, json!({"body": format!("m{i}")}))
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, body) = app.post(&path, &bot, json!({"body": "one too many"})).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "rate_limited");
}

/// A WebSocket client that sends and never reads: the upgrade by hand, then masked text
/// frames written to a socket whose receive buffer is left to fill.
struct NonReader {
    socket: TcpStream,
}

impl NonReader {
    async fn connect(app: &TestApp, token: &str) -> NonReader {
        let host = app.address.trim_start_matches("http://");
        let mut socket = TcpStream::connect(host).await.expect("connect");
        let request = format!(
            "GET /ws?token={token} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n"
        );
        socket.write_all(request.as_bytes()).await.expect("upgrade");
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            socket.read_exact(&mut byte).await.expect("response head");
            head.push(byte[0]);
        }
        assert!(
            head.starts_with(b"HTTP/1.1 101"),
            "{}",
            String::from_utf8_lossy(&head)
        );
        NonReader { socket }
    }

    async fn send(&mut self, text: &str) -> std::io::Result<()> {
        let payload = text.as_bytes();
        let mut frame = vec![0x81];
        match payload.len() {
            len @ 0..=125 => frame.push(0x80 | len as u8),
            len @ 126..=65535 => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(len as u16).to_be_bytes());
            }
            len => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        let mask = [1u8, 2, 3, 4];
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.socket.write_all(&frame).await
    }
}

/// The kernel's line for a TCP socket from local `port` to remote `peer_port` (in any
/// state but TIME_WAIT, which holds no data), read from `/proc/net/tcp{,6}`.
fn kernel_socket(port: u16, peer_port: u16) -> Option<String> {
    const TIME_WAIT: &str = "06";
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .find_map(|table| {
            let text = std::fs::read_to_string(table).unwrap_or_default();
            text.lines().skip(1).map(str::to_owned).find(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                let port_of = |address: &str| {
                    address
                        .rsplit(':')
                        .next()
                        .and_then(|hex| u16::from_str_radix(hex, 16).ok())
                };
                fields.len() > 3
                    && port_of(fields[1]) == Some(port)
                    && port_of(fields[2]) == Some(peer_port)
                    && fields[3] != TIME_WAIT
            })
        })
}

/// Fills `chat` with 40 messages of 3.9 KB, so that each `session.resume` of it is
/// answered with about 156 KB; returns that request.
async fn long_resume(chat: &mut Chat) -> String {
    let long = "y".repeat(3900);
    for _ in 0..40 {
        chat.visitor.say(&chat.session_id, &long).await;
    }
    json!({"type": "session.resume", "session_id": chat.session_id, "after_seq": 0}).to_string()
}

/// Waits up to two seconds for the server's socket to `peer_port` to be gone from the
/// kernel, buffers and all; panics with the kernel's line for it if it stays.
async fn assert_socket_gone(app: &TestApp, peer_port: u16) {
    let server_port: u16 = app
        .address
        .rsplit(':')
        .next()
        .and_then(|port| port.parse().ok())
        .expect("server port");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while kernel_socket(server_port, peer_port).is_some() && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if let Some(socket) = kernel_socket(server_port, peer_port) {
        panic!("the server still holds the dropped socket: {socket}");
    }
}

#[actix_web::test]
async fn a_socket_that_never_reads_is_dropped_at_once_while_others_chat_on() {
    let app =
        TestApp::spawn_with(&["--ws-outbox-bytes", "200000", "--ws-rate-per-sec", "1000"]).await;
    let mut chat = Chat::open(&app).await;
    let resume = long_resume(&mut chat).await;
    let mut hog = NonReader::connect(&app, &chat.visitor_token).await;
    let hog_port = hog.socket.local_addr().expect("hog address").port();
    let visitor = switchboard::domain::Peer::visitor(chat.visitor_id.parse().unwrap());
    let connections = &app.app_state.connections;
    // The visitor's tab and the hog, once the hog's connection has started.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while connections.count(visitor) < 2 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(connections.count(visitor), 2);
    // Megabytes of replies the hog never reads: the kernel's buffers on both sides fill,
    // then the transport's, then the outbox overflows.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut dropped = false;
    while tokio::time::Instant::now() < deadline {
        // A server that stopped reading the hog blocks the write: that is fine too.
        let sent = tokio::time::timeout(Duration::from_millis(200), hog.send(&resume)).await;
        if matches!(sent, Ok(Err(_))) || connections.count(visitor) < 2 {
            dropped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(dropped, "the non-reading socket is still registered");
    // Not only forgotten by the server: the socket, and what the kernel buffered for it,
    // are gone, although the hog keeps its end open.
    assert_socket_gone(&app, hog_port).await;
    // The well-behaved tabs of everyone carry on.
    let acked = chat
        .specialist
        .say(&chat.session_id, "still answering")
        .await;
    assert_eq!(acked["body"], "still answering");
    let delivered = chat.visitor.recv_type("message.new").await;
    assert_eq!(delivered["message"]["id"], acked["id"]);
    drop(hog);
}

#[actix_web::test]
async fn a_disabled_specialists_console_that_never_reads_is_cut_within_a_second() {
    // An outbox large enough that the console is never dropped for falling behind.
    let app = TestApp::spawn_with(&[
        "--ws-outbox-bytes",
        "100000000",
        "--ws-rate-per-sec",
        "1000",
    ])
    .await;
    let mut chat = Chat::open(&app).await;
    let resume = long_resume(&mut chat).await;
    let mut console = NonReader::connect(&app, &chat.specialist_token).await;
    let console_port = console.socket.local_addr().expect("console address").port();
    // About 30 MB of replies: more than the kernel and the transport take, so the rest
    // waits in the outbox, where the close will queue behind it.
    for _ in 0..200 {
        let sent = tokio::time::timeout(Duration::from_millis(200), console.send(&resume)).await;
        assert!(matches!(sent, Ok(Ok(()))), "the server stopped reading");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    disable(&app, &chat.specialist_id).await;
    let specialist = switchboard::domain::Peer::specialist(chat.specialist_id.parse().unwrap());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    while app.app_state.connections.count(specialist) > 0 && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(app.app_state.connections.count(specialist), 0);
    assert_socket_gone(&app, console_port).await;
    drop(console);
}

/// POSTs `body` as it is, with a JSON content type; returns the status.
async fn post_raw(app: &TestApp, path: &str, token: Option<&str>, body: &'static str) -> u16 {
    let mut request = app
        .client
        .post(app.url(path))
        .insert_header(("content-type", "application/json"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request
        .send_body(body)
        .await
        .expect("request reaches the server")
        .status()
        .as_u16()
}

#[actix_web::test]
async fn who_may_not_use_an_endpoint_is_refused_whatever_the_body_holds() {
    let app = TestApp::spawn().await;
    let (_, visitor) = app.new_visitor("Mallory").await;
    let (_, specialist) = app.new_specialist("kim@example.com", json!({})).await;
    let broken = "{\"visitor\": ";
    assert_eq!(post_raw(&app, "/api/v1/sessions", None, broken).await, 401);
    assert_eq!(
        post_raw(&app, "/api/v1/sessions", Some(&visitor), broken).await,
        403
    );
    assert_eq!(
        post_raw(&app, "/api/v1/bots", Some(&specialist), broken).await,
        403
    );
    assert_eq!(
        post_raw(&app, "/api/v1/specialists", Some(&visitor), broken).await,
        403
    );
    assert_eq!(
        post_raw(&app, "/api/v1/webhooks", Some(&specialist), broken).await,
        403
    );

    // A session that is not the caller's: 403 before its body is read.
    let chat = Chat::open(&app).await;
    let messages = format!("/api/v1/sessions/{}/messages", chat.session_id);
    let messages: &'static str = Box::leak(messages.into_boxed_str());
    assert_eq!(
        post_raw(&app, messages, Some(&visitor), "{\"body\": 7}").await,
        403
    );
    assert_eq!(
        post_raw(&app, messages, Some(&chat.visitor_token), "{\"body\": 7}").await,
        400,
        "the participant learns what is wrong with the body"
    );
}

/// Writes messages 1…`count` of the chat's visitor straight to the database: `body` and
/// `key` are SQL over the message's number `n`.
fn store_visitor_messages(app: &TestApp, chat: &Chat, count: i32, body: &str, key: &str) {
    common::process::execute(
        &mut app.db(),
        &format!(
            "INSERT INTO messages (id, session_id, seq, sender_type, sender_id, kind, body, \
             client_msg_id, created_at) \
             SELECT gen_random_uuid(), '{session}', n, 'visitor', '{visitor}', 'text', \
             {body}, {key}, now() FROM generate_series(1, {count}) n",
            session = chat.session_id,
            visitor = chat.visitor_id
        ),
    );
}

#[actix_web::test]
async fn a_resend_older_than_the_keys_held_in_memory_is_still_recognised() {
    let app = TestApp::spawn().await;
    let chat = Chat::open(&app).await;
    let mut db = app.db();
    // More keyed messages than a session keeps in memory, stored before a restart.
    store_visitor_messages(&app, &chat, 10001, "'old ' || n", "'k' || n");
    common::process::execute(
        &mut db,
        &format!(
            "UPDATE chat_sessions SET last_seq = 10001 WHERE id = '{}'",
            chat.session_id
        ),
    );
    let restarted = TestApp::spawn_on(&app.database).await;
    let mut visitor = WsClient::connect(&restarted, &chat.visitor_token).await;
    let oldest = visitor
        .expect_reply(send(&chat.session_id, "k1", "old 1"), "message.ack")
        .await;
    assert_eq!(
        oldest["message"]["seq"], 1,
        "the original, not a second message"
    );
    let newest = visitor
        .expect_reply(send(&chat.session_id, "k10001", "old 10001"), "message.ack")
        .await;
    assert_eq!(newest["message"]["seq"], 10001);
    let fresh = visitor
        .expect_reply(send(&chat.session_id, "fresh", "new"), "message.ack")
        .await;
    assert_eq!(fresh["message"]["seq"], 10002);
    let rows = common::process::query_i64(
        &mut db,
        &format!(
            "SELECT count(*) FROM messages WHERE session_id = '{}'",
            chat.session_id
        ),
    );
    assert_eq!(rows, 10002);
}

#[actix_web::test]
async fn a_transcript_longer_than_a_page_is_exported_whole_and_in_order() {
    let app = TestApp::spawn().await;
    let chat = Chat::open(&app).await;
    store_visitor_messages(&app, &chat, 2500, "'line ' || n", "NULL");
    let path = format!("/api/v1/sessions/{}/transcript", chat.session_id);
    let (status, transcript) = app.get(&path, &chat.visitor_token).await;
    assert_eq!(status, 200);
    assert_eq!(transcript["session"]["id"], chat.session_id.as_str());
    assert_eq!(
        seqs(&transcript["messages"]),
        (1..=2500).collect::<Vec<i64>>()
    );
    let mut page = app
        .client
        .get(app.url(&format!("{path}?format=html")))
        .bearer_auth(&chat.visitor_token)
        .send()
        .await
        .expect("the page");
    assert_eq!(page.status().as_u16(), 200);
    let html = page.body().limit(16 * 1024 * 1024).await.expect("the body");
    let html = String::from_utf8_lossy(&html);
    assert!(html.contains(">line 2500</p>") && html.ends_with("</html>\n"));
    assert_eq!(html.matches("<li ").count(), 2500);
}

#[actix_web::test]
async fn a_frame_not_for_the_role_is_refused_as_such_even_when_broken() {
    let app = TestApp::spawn().await;
    let (_, token) = app.new_visitor("Vera").await;
    let mut widget = WsClient::connect(&app, &token).await;
    let refused = widget
        .request(json!({"type": "note.add", "session_id": 7, "body": ["not", "text"]}))
        .await;
    assert_error(&refused, &["forbidden"]);
    let broken = widget
        .request(json!({"type": "message.send", "session_id": 7}))
        .await;
    assert_error(&broken, &["bad_request"]);
}
