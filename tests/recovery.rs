//! Recovery (SPEC sections 1 and 8): the real binary is killed, restarted, shut down
//! and cut off from Postgres, and nothing it acknowledged is lost.

mod common;

use std::time::{Duration, Instant};

use common::process::{query_i64, ServerProcess, TestDatabase};
use common::ws::{assert_error, Chat, Server, WsClient};
use serde_json::{json, Value};

/// Auto-accept makes a conversation one step; the rate limit is out of the way of bursts.
const FLAGS: &[&str] = &["--auto-accept", "true", "--ws-rate-per-sec", "100000"];

fn text_message(session_id: &str, client_msg_id: &str, body: &str) -> Value {
    json!({"type": "message.send", "session_id": session_id,
           "client_msg_id": client_msg_id, "body": body})
}

#[actix_web::test]
async fn a_kill_during_a_burst_loses_no_acknowledged_message() {
    let database = TestDatabase::fresh();
    let mut server = ServerProcess::start(&database.name, FLAGS).await;
    let mut chat = Chat::open(&server).await;
    let session = chat.session_id.clone();

    for i in 0..300 {
        chat.visitor.send(text_message(
            &session,
            &format!("burst-{i}"),
            &format!("message {i}"),
        ));
    }
    let mut acks = Vec::new();
    while acks.len() < 100 {
        acks.push(chat.visitor.recv_type("message.ack").await);
    }
    server.kill9();
    chat.visitor.closed().await;
    acks.extend(
        chat.visitor
            .take_buffered()
            .into_iter()
            .filter(|frame| frame["type"] == "message.ack"),
    );

    let mut conn = database.connect();
    for ack in &acks {
        let stored = query_i64(
            &mut conn,
            &format!(
                "SELECT count(*) FROM messages WHERE id = '{}' AND seq = {}",
                ack["message"]["id"].as_str().unwrap(),
                ack["message"]["seq"]
            ),
        );
        assert_eq!(stored, 1, "acknowledged but lost: {ack}");
    }
    let in_session = format!("FROM messages WHERE session_id = '{session}'");
    let count = query_i64(&mut conn, &format!("SELECT count(*) {in_session}"));
    let highest = query_i64(&mut conn, &format!("SELECT max(seq)::bigint {in_session}"));
    assert_eq!(count, highest, "a gap in seq");

    let server = ServerProcess::start(&database.name, FLAGS).await;
    let mut visitor = WsClient::connect(&server, &chat.visitor_token).await;
    let next = visitor.say(&session, "after the crash").await;
    assert_eq!(next["seq"], highest + 1);
    let original = &acks[0];
    let resent = visitor
        .expect_reply(
            text_message(
                &session,
                original["client_msg_id"].as_str().unwrap(),
                original["message"]["body"].as_str().unwrap(),
            ),
            "message.ack",
        )
        .await;
    assert_eq!(resent["message"]["id"], original["message"]["id"]);
    assert_eq!(resent["message"]["seq"], original["message"]["seq"]);
}

#[actix_web::test]
async fn the_queue_order_survives_a_restart() {
    let database = TestDatabase::fresh();
    let mut server = ServerProcess::start(&database.name, &[]).await;
    let mut waiting = Vec::new();
    for name in ["First", "Second", "Third"] {
        let (_, token) = server.new_visitor(name).await;
        let mut visitor = WsClient::connect(&server, &token).await;
        waiting.push(visitor.start_session(json!({})).await["id"].clone());
    }

    server.kill9();
    let server = ServerProcess::start(&database.name, &[]).await;
    let (_, token) = server
        .new_specialist("sam@example.com", json!({"max_concurrent_chats": 1}))
        .await;
    let mut sam = WsClient::connect(&server, &token).await;
    sam.go_online().await;

    for expected in &waiting {
        let offer = sam.recv_type("offer").await;
        assert_eq!(&offer["session"]["id"], expected);
        sam.decline(&offer).await;
    }
}

#[actix_web::test]
async fn an_active_chat_continues_with_its_specialist_after_a_restart() {
    let database = TestDatabase::fresh();
    let mut server = ServerProcess::start(&database.name, FLAGS).await;
    let mut chat = Chat::open(&server).await;
    let session = chat.session_id.clone();
    let before = chat.visitor.say(&session, "before the restart").await;

    server.kill9();
    let server = ServerProcess::start(&database.name, FLAGS).await;
    let mut visitor = WsClient::connect(&server, &chat.visitor_token).await;
    let mut specialist = WsClient::connect(&server, &chat.specialist_token).await;
    specialist.go_online().await;

    for hello in [&visitor.hello, &specialist.hello] {
        assert_eq!(hello["sessions"][0]["id"], session.as_str(), "{hello}");
        assert_eq!(
            hello["sessions"][0]["specialist"]["id"],
            chat.specialist_id.as_str()
        );
    }
    let after = visitor.say(&session, "are you still there?").await;
    assert_eq!(after["seq"], before["seq"].as_i64().unwrap() + 1);
    assert_eq!(
        specialist.recv_type("message.new").await["message"]["id"],
        after["id"]
    );
    let reply = specialist.say(&session, "yes").await;
    assert_eq!(
        visitor.recv_type("message.new").await["message"]["id"],
        reply["id"]
    );
}

#[actix_web::test]
async fn during_a_database_outage_sends_are_refused_and_then_work_again() {
    let database = TestDatabase::fresh();
    let server = ServerProcess::start(&database.name, FLAGS).await;
    let mut chat = Chat::open(&server).await;
    let session = chat.session_id.clone();
    let before = chat.visitor.say(&session, "before the outage").await;
    chat.specialist.recv_type("message.new").await;

    database.go_down();
    let attempt = text_message(&session, "during-outage", "is anyone there?");
    let refused = chat
        .visitor
        .request_within(attempt.clone(), Duration::from_secs(30))
        .await;

    assert_error(&refused, &["internal"]);
    chat.visitor
        .expect_reply(json!({"type": "ping"}), "pong")
        .await;
    chat.specialist.expect_no("message.new", 500).await;

    database.come_back();
    let deadline = Instant::now() + Duration::from_secs(20);
    let ack = loop {
        let reply = chat
            .visitor
            .request_within(attempt.clone(), Duration::from_secs(15))
            .await;
        if reply["type"] == "message.ack" {
            break reply;
        }
        assert!(Instant::now() < deadline, "still refused: {reply}");
        actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(ack["message"]["seq"], before["seq"].as_i64().unwrap() + 1);
    let stored = query_i64(
        &mut database.connect(),
        &format!(
            "SELECT count(*) FROM messages WHERE id = '{}'",
            ack["message"]["id"].as_str().unwrap()
        ),
    );
    assert_eq!(stored, 1);
}

#[actix_web::test]
async fn sigterm_closes_websockets_with_1001_and_exits() {
    let database = TestDatabase::fresh();
    let mut server = ServerProcess::start(&database.name, FLAGS).await;
    let chat = Chat::open(&server).await;
    let (mut visitor, mut specialist) = (chat.visitor, chat.specialist);

    server.terminate();

    assert_eq!(visitor.closed().await, 1001);
    assert_eq!(specialist.closed().await, 1001);
    let status = server.exited_within(Duration::from_secs(15)).await;
    assert!(status.is_some_and(|s| s.success()), "exit: {status:?}");
}
