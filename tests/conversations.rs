//! Live conversations (SPEC section 4): messages, typing, read receipts, notes, history,
//! the end of a chat, and what the WebSocket refuses, all over real connections.

mod common;

use common::process::{eventually, query_i64};
use common::ws::{assert_error, Chat, WsClient, RECV_TIMEOUT};
use common::TestApp;
use serde_json::{json, Value};
use std::time::Duration;

fn text_message(session_id: &str, client_msg_id: &str, body: &str) -> Value {
    json!({"type": "message.send", "session_id": session_id,
           "client_msg_id": client_msg_id, "body": body})
}

fn rows_with_id(app: &TestApp, message: &Value) -> i64 {
    query_i64(
        &mut app.db(),
        &format!(
            "SELECT count(*) FROM messages WHERE id = '{}'",
            message["id"].as_str().unwrap()
        ),
    )
}

fn seqs(messages: &Value) -> Vec<i64> {
    messages
        .as_array()
        .expect("an array of messages")
        .iter()
        .map(|m| m["seq"].as_i64().expect("seq"))
        .collect()
}

/// The seqs of acknowledged messages.
fn seqs_of(sent: &[Value]) -> Vec<i64> {
    sent.iter().map(|m| m["seq"].as_i64().unwrap()).collect()
}

#[actix_web::test]
async fn messages_reach_every_other_connection_and_are_stored_before_the_ack() {
    let app = TestApp::spawn().await;
    let mut chat = Chat::open(&app).await;
    let mut visitor_tab = WsClient::connect(&app, &chat.visitor_token).await;
    let mut specialist_tab = WsClient::connect(&app, &chat.specialist_token).await;

    let question = chat
        .visitor
        .say(&chat.session_id, "Where is my parcel?")
        .await;
    assert_eq!(rows_with_id(&app, &question), 1);
    for other in [&mut visitor_tab, &mut chat.specialist, &mut specialist_tab] {
        let new = other.recv_type("message.new").await;
        assert_eq!(new["message"]["id"], question["id"]);
        assert_eq!(new["message"]["body"], "Where is my parcel?");
    }

    let answer = chat.specialist.say(&chat.session_id, "On its way").await;
    assert_eq!(rows_with_id(&app, &answer), 1);
    for other in [&mut chat.visitor, &mut visitor_tab, &mut specialist_tab] {
        let new = other.recv_type("message.new").await;
        assert_eq!(new["message"]["id"], answer["id"]);
    }
    assert_eq!(question["sender"]["type"], "visitor");
    assert_eq!(answer["sender"]["type"], "specialist");
    assert_eq!(answer["sender"]["id"], chat.specialist_id.as_str());
    assert_eq!(answer["seq"], question["seq"].as_i64().unwrap() + 1);
    chat.visitor.expect_no("message.new", 300).await;
}

#[actix_web::test]
async fn concurrent_senders_get_sequence_numbers_without_gaps_or_repeats() {
    let app = TestApp::spawn_with(&["--ws-rate-per-sec", "1000"]).await;
    let mut chat = Chat::open(&app).await;

    for i in 0..100 {
        let session = chat.session_id.clone();
        chat.visitor
            .send(text_message(&session, &format!("v{i}"), "from the visitor"));
        chat.specialist.send(text_message(
            &session,
            &format!("s{i}"),
            "from the specialist",
        ));
    }
    let mut acked = Vec::new();
    for sender in [&mut chat.visitor, &mut chat.specialist] {
        for _ in 0..100 {
            let ack = sender.recv_type("message.ack").await;
            acked.push(ack["message"]["seq"].as_i64().expect("seq"));
        }
    }

    acked.sort_unstable();
    let first = acked[0];
    assert_eq!(acked, (first..first + 200).collect::<Vec<_>>());
    let mut conn = app.db();
    let in_session = format!("FROM messages WHERE session_id = '{}'", chat.session_id);
    let stored = query_i64(&mut conn, &format!("SELECT count(*) {in_session}"));
    let highest = query_i64(&mut conn, &format!("SELECT max(seq)::bigint {in_session}"));
    assert_eq!((stored, highest), (first + 199, first + 199));
}

#[actix_web::test]
async fn a_resent_client_msg_id_returns_the_original_message() {
    let app = TestApp::spawn().await;
    let mut chat = Chat::open(&app).await;
    let frame = text_message(&chat.session_id, "retry-1", "Hello?");

    let first = chat
        .visitor
        .expect_reply(frame.clone(), "message.ack")
        .await;
    let again = chat.visitor.expect_reply(frame, "message.ack").await;

    assert_eq!(again["client_msg_id"], "retry-1");
    assert_eq!(again["message"]["id"], first["message"]["id"]);
    assert_eq!(again["message"]["seq"], first["message"]["seq"]);
    let delivered = chat.specialist.recv_type("message.new").await;
    assert_eq!(delivered["message"]["id"], first["message"]["id"]);
    chat.specialist.expect_no("message.new", 500).await;
    let rows = query_i64(
        &mut app.db(),
        &format!(
            "SELECT count(*) FROM messages WHERE session_id = '{}' AND client_msg_id = 'retry-1'",
            chat.session_id
        ),
    );
    assert_eq!(rows, 1);
}

#[actix_web::test]
async fn typing_reaches_the_other_side_only() {
    let app = TestApp::spawn().await;
    let mut chat = Chat::open(&app).await;

    chat.visitor
        .send(json!({"type": "typing", "session_id": chat.session_id, "is_typing": true}));
    let typing = chat.specialist.recv_type("typing").await;
    assert_eq!(typing["session_id"], chat.session_id.as_str());
    assert_eq!(typing["from"]["type"], "visitor");
    assert_eq!(typing["from"]["id"], chat.visitor_id.as_str());
    assert_eq!(typing["is_typing"], true);
    chat.visitor.expect_no("typing", 500).await;

    chat.specialist
        .send(json!({"type": "typing", "session_id": chat.session_id, "is_typing": false}));
    let typing = chat.visitor.recv_type("typing").await;
    assert_eq!(typing["from"]["type"], "specialist");
    assert_eq!(typing["is_typing"], false);
    chat.specialist.expect_no("typing", 500).await;
}

#[actix_web::test]
async fn read_receipts_reach_the_other_side_and_the_cursor_only_moves_forward() {
    let app = TestApp::spawn().await;
    let mut chat = Chat::open(&app).await;
    let first = chat.visitor.say(&chat.session_id, "one").await;
    chat.visitor.say(&chat.session_id, "two").await;
    let last = chat.visitor.say(&chat.session_id, "three").await;
    let cursor = format!(
        "SELECT coalesce(max(seq), 0)::bigint FROM read_cursors \
         WHERE session_id = '{}' AND reader_type = 'specialist'",
        chat.session_id
    );

    chat.specialist
        .send(json!({"type": "read", "session_id": chat.session_id, "seq": last["seq"]}));
    let read = chat.visitor.recv_type("read").await;
    assert_eq!(read["session_id"], chat.session_id.as_str());
    assert_eq!(
        read["by"],
        json!({"type": "specialist", "id": chat.specialist_id})
    );
    assert_eq!(read["seq"], last["seq"]);
    let last_seq = last["seq"].as_i64().unwrap();
    eventually("the read cursor is stored", Duration::from_secs(5), || {
        (query_i64(&mut app.db(), &cursor) == last_seq).then_some(())
    })
    .await;

    chat.specialist
        .send(json!({"type": "read", "session_id": chat.session_id, "seq": first["seq"]}));
    chat.specialist
        .expect_reply(json!({"type": "ping"}), "pong")
        .await;
    chat.visitor.expect_no("read", 500).await;
    assert_eq!(query_i64(&mut app.db(), &cursor), last_seq);
    chat.specialist.expect_no("read", 0).await;
}

#[actix_web::test]
async fn notes_reach_the_specialists_tabs_and_never_the_visitor() {
    let app = TestApp::spawn().await;
    let mut chat = Chat::open(&app).await;
    let mut specialist_tab = WsClient::connect(&app, &chat.specialist_token).await;

    let note = chat
        .specialist
        .expect_reply(
            json!({"type": "note.add", "session_id": chat.session_id,
                   "body": "VIP customer, refund without asking"}),
            "message.ack",
        )
        .await["message"]
        .clone();
    assert_eq!(note["kind"], "note");
    assert_eq!(
        specialist_tab.recv_type("message.new").await["message"]["id"],
        note["id"]
    );
    let visible = chat.specialist.say(&chat.session_id, "Hello Vera").await;

    let first_seen = chat.visitor.recv_type("message.new").await;
    assert_eq!(first_seen["message"]["id"], visible["id"]);
    let resumed = chat
        .visitor
        .expect_reply(
            json!({"type": "session.resume", "session_id": chat.session_id, "after_seq": 0}),
            "session.state",
        )
        .await;
    let history = chat
        .visitor
        .expect_reply(
            json!({"type": "history", "session_id": chat.session_id}),
            "history",
        )
        .await;
    let reconnected = WsClient::connect(&app, &chat.visitor_token).await;
    for seen in [&resumed, &history, &reconnected.hello] {
        let text = seen.to_string();
        assert!(!text.contains("VIP customer"), "a note leaked: {text}");
        assert!(!text.contains(r#""kind":"note""#), "a note leaked: {text}");
    }
    assert!(seqs(&history["messages"]).contains(&visible["seq"].as_i64().unwrap()));
    let specialist_history = chat
        .specialist
        .expect_reply(
            json!({"type": "history", "session_id": chat.session_id}),
            "history",
        )
        .await;
    assert!(specialist_history.to_string().contains("VIP customer"));
}

#[actix_web::test]
async fn a_visitor_cannot_touch_someone_elses_session() {
    let app = TestApp::spawn().await;
    let mut chat = Chat::open(&app).await;
    let (_, intruder_token) = app.visitor("Mallory").await;
    let mut intruder = WsClient::connect(&app, &intruder_token).await;
    let session = chat.session_id.clone();

    let sent = intruder.request(text_message(&session, "x1", "hi")).await;
    assert_error(&sent, &["forbidden"]);
    for frame in [
        json!({"type": "read", "session_id": session, "seq": 1}),
        json!({"type": "typing", "session_id": session, "is_typing": true}),
        json!({"type": "session.resume", "session_id": session, "after_seq": 0}),
        json!({"type": "history", "session_id": session}),
        json!({"type": "session.end", "session_id": session}),
    ] {
        let reply = intruder.request(frame).await;
        assert_error(&reply, &["forbidden", "not_found"]);
    }
    chat.visitor.end_session(&session).await;
    let rated = intruder
        .request(json!({"type": "session.rate", "session_id": session, "rating": 1}))
        .await;
    assert_error(&rated, &["forbidden", "not_found"]);
    let resumed = intruder
        .request(json!({"type": "session.resume", "session_id": session, "after_seq": 0}))
        .await;
    assert_error(&resumed, &["forbidden", "not_found"]);
    chat.specialist.expect_no("message.new", 0).await;
    chat.specialist.expect_no("typing", 0).await;
}

#[actix_web::test]
async fn a_visitor_cannot_use_specialist_frames() {
    let app = TestApp::spawn().await;
    let (_, token) = app.visitor("Vera").await;
    let mut visitor = WsClient::connect(&app, &token).await;
    let session = visitor.start_session(json!({})).await["id"].clone();
    let offer_id = uuid::Uuid::new_v4().to_string();

    for frame in [
        json!({"type": "status.set", "status": "online"}),
        json!({"type": "offer.accept", "offer_id": offer_id}),
        json!({"type": "offer.decline", "offer_id": offer_id}),
        json!({"type": "note.add", "session_id": session, "body": "psst"}),
        json!({"type": "queue.watch"}),
        json!({"type": "session.pickup", "session_id": session}),
        json!({"type": "session.transfer", "session_id": session}),
    ] {
        let reply = visitor.request(frame).await;
        assert_error(&reply, &["forbidden"]);
    }
}

#[actix_web::test]
async fn a_visitor_cannot_jump_the_queue() {
    let app = TestApp::spawn().await;
    let (_, token) = app.visitor("Vera").await;
    let mut visitor = WsClient::connect(&app, &token).await;

    for priority in ["high", "urgent"] {
        let reply = visitor
            .request(json!({"type": "session.start", "priority": priority}))
            .await;
        assert_error(&reply, &["forbidden"]);
    }
    let session = visitor.start_session(json!({"priority": "low"})).await;
    assert_eq!(session["priority"], "low");
}

#[actix_web::test]
async fn a_second_session_start_returns_the_open_session() {
    let app = TestApp::spawn().await;
    let (_, token) = app.visitor("Vera").await;
    let mut visitor = WsClient::connect(&app, &token).await;
    let mut other_tab = WsClient::connect(&app, &token).await;

    let first = visitor.start_session(json!({"intent": "billing"})).await;
    let second = other_tab.start_session(json!({})).await;

    assert_eq!(second["id"], first["id"]);
    assert_eq!(first["status"], "waiting");
    let sessions = query_i64(&mut app.db(), "SELECT count(*) FROM chat_sessions");
    assert_eq!(sessions, 1);
}

#[actix_web::test]
async fn hello_tells_a_reconnecting_client_what_to_resume() {
    let app = TestApp::spawn().await;
    let chat = Chat::open(&app).await;

    let visitor = WsClient::connect(&app, &chat.visitor_token).await;
    let specialist = WsClient::connect(&app, &chat.specialist_token).await;

    assert_eq!(visitor.hello["role"], "visitor");
    assert_eq!(visitor.me(), chat.visitor_id);
    assert_eq!(visitor.hello["sessions"][0]["id"], chat.session_id.as_str());
    assert_eq!(specialist.hello["role"], "specialist");
    assert_eq!(specialist.me(), chat.specialist_id);
    assert!(specialist.hello["me"]["status"].is_string());
    assert_eq!(
        specialist.hello["sessions"][0]["id"],
        chat.session_id.as_str()
    );
    assert_eq!(
        specialist.hello["sessions"][0]["specialist"]["id"],
        chat.specialist_id.as_str()
    );
}

#[actix_web::test]
async fn session_resume_returns_the_messages_after_a_seq() {
    let app = TestApp::spawn().await;
    let mut chat = Chat::open(&app).await;
    let mut sent = Vec::new();
    for i in 1..=10 {
        sent.push(
            chat.visitor
                .say(&chat.session_id, &format!("message {i}"))
                .await,
        );
    }
    let mut reconnected = WsClient::connect(&app, &chat.visitor_token).await;

    let state = reconnected
        .expect_reply(
            json!({"type": "session.resume", "session_id": chat.session_id,
                   "after_seq": sent[4]["seq"]}),
            "session.state",
        )
        .await;

    assert_eq!(state["session"]["id"], chat.session_id.as_str());
    assert_eq!(seqs(&state["messages"]), seqs_of(&sent[5..]));
    assert_eq!(state["has_more"], false);
    let live = chat.specialist.say(&chat.session_id, "still there?").await;
    assert_eq!(
        reconnected.recv_type("message.new").await["message"]["id"],
        live["id"]
    );
}

#[actix_web::test]
async fn history_pages_backwards_and_each_page_is_in_ascending_order() {
    let app = TestApp::spawn().await;
    let mut chat = Chat::open(&app).await;
    let mut sent = Vec::new();
    for i in 1..=10 {
        sent.push(
            chat.visitor
                .say(&chat.session_id, &format!("message {i}"))
                .await,
        );
    }
    let session = chat.session_id.clone();
    let page = |before: Option<&Value>, limit: u32| {
        let mut frame = json!({"type": "history", "session_id": session, "limit": limit});
        if let Some(before) = before {
            frame["before_seq"] = before["seq"].clone();
        }
        frame
    };

    let newest = chat.specialist.expect_reply(page(None, 4), "history").await;
    let older = chat
        .specialist
        .expect_reply(page(Some(&sent[6]), 4), "history")
        .await;
    let oldest = chat
        .specialist
        .expect_reply(page(Some(&sent[2]), 200), "history")
        .await;

    assert_eq!(newest["session_id"], session.as_str());
    assert_eq!(seqs(&newest["messages"]), seqs_of(&sent[6..]));
    assert_eq!(newest["has_more"], true);
    assert_eq!(seqs(&older["messages"]), seqs_of(&sent[2..6]));
    assert_eq!(older["has_more"], true);
    let rest = seqs(&oldest["messages"]);
    assert!(rest.windows(2).all(|pair| pair[0] < pair[1]), "{rest:?}");
    assert!(rest.ends_with(&seqs_of(&sent[..2])), "{rest:?}");
    assert_eq!(oldest["has_more"], false);
}

#[actix_web::test]
async fn an_ended_session_refuses_messages_and_takes_one_rating() {
    let app = TestApp::spawn().await;
    let mut chat = Chat::open(&app).await;
    let session = chat.session_id.clone();

    let ended = chat
        .visitor
        .expect_reply(
            json!({"type": "session.end", "session_id": session, "reason": "solved"}),
            "session.ended",
        )
        .await;
    let seen = chat.specialist.recv_type("session.ended").await;

    assert_eq!(ended["ended_by"]["type"], "visitor");
    assert_eq!(ended["session"]["status"], "ended");
    assert_eq!(seen["session_id"], session.as_str());
    assert_eq!(seen["reason"], "solved");
    assert!(seen.get("ref").is_none());
    for participant in [&mut chat.visitor, &mut chat.specialist] {
        let refused = participant
            .request(text_message(&session, "late", "hello?"))
            .await;
        assert_error(&refused, &["conflict"]);
    }
    let rate = |rating: i64| json!({"type": "session.rate", "session_id": session, "rating": rating, "comment": "quick"});
    assert_error(&chat.visitor.request(rate(6)).await, &["bad_request"]);
    let rated = chat.visitor.expect_reply(rate(5), "session.rated").await;
    assert_eq!(
        (rated["session_id"].as_str(), rated["rating"].as_i64()),
        (Some(session.as_str()), Some(5))
    );
    assert_error(&chat.visitor.request(rate(4)).await, &["conflict"]);
    let stored = query_i64(
        &mut app.db(),
        &format!("SELECT rating::bigint FROM chat_sessions WHERE id = '{session}'"),
    );
    assert_eq!(stored, 5);
}

#[actix_web::test]
async fn malformed_frames_get_bad_request_and_the_connection_lives_on() {
    let app = TestApp::spawn().await;
    let (_, token) = app.visitor("Vera").await;
    let mut ws = WsClient::connect(&app, &token).await;
    let some_session = uuid::Uuid::new_v4();
    let long_ref = "x".repeat(65);
    let cases = [
        ("not json at all".to_owned(), None),
        ("[1, 2, 3]".to_owned(), None),
        (r#"{"ref": "no-type"}"#.to_owned(), Some("no-type")),
        (
            r#"{"type": "teleport", "ref": "unknown"}"#.to_owned(),
            Some("unknown"),
        ),
        (
            r#"{"type": "message.send", "ref": "missing"}"#.to_owned(),
            Some("missing"),
        ),
        (
            format!(
                r#"{{"type": "typing", "ref": "wrong", "session_id": "{some_session}", "is_typing": "yes"}}"#
            ),
            Some("wrong"),
        ),
        (
            r#"{"type": "history", "ref": "not-a-uuid", "session_id": "42"}"#.to_owned(),
            Some("not-a-uuid"),
        ),
        (format!(r#"{{"type": "ping", "ref": "{long_ref}"}}"#), None),
        (r#"{"type": "ping", "ref": 7}"#.to_owned(), None),
    ];

    for (text, reference) in cases {
        ws.send_raw(&text);
        let error = match reference {
            Some(reference) => {
                ws.recv_where(reference, RECV_TIMEOUT, |f| f["ref"] == reference)
                    .await
            }
            None => ws.recv_type("error").await,
        };
        assert_error(&error, &["bad_request"]);
        assert!(error["message"].is_string(), "{error}");
    }
    ws.expect_reply(json!({"type": "ping", "ref": "alive"}), "pong")
        .await;
}

#[actix_web::test]
async fn message_fields_are_checked_before_anything_is_stored() {
    let app = TestApp::spawn().await;
    let mut chat = Chat::open(&app).await;
    let session = chat.session_id.clone();

    let blank = chat
        .visitor
        .request(text_message(&session, "a", "   "))
        .await;
    let too_long = chat
        .visitor
        .request(text_message(&session, "b", &"x".repeat(4001)))
        .await;
    let long_id = chat
        .visitor
        .request(text_message(&session, &"c".repeat(65), "hello"))
        .await;
    let no_id = chat
        .visitor
        .request(json!({"type": "message.send", "session_id": session, "body": "hello"}))
        .await;

    assert_error(&blank, &["bad_request"]);
    assert_error(&too_long, &["bad_request", "too_large"]);
    assert_error(&long_id, &["bad_request"]);
    assert_error(&no_id, &["bad_request"]);
    chat.specialist.expect_no("message.new", 300).await;
    let longest = chat.visitor.say(&session, &"y".repeat(4000)).await;
    assert_eq!(longest["body"].as_str().unwrap().len(), 4000);
}

#[actix_web::test]
async fn an_oversized_frame_closes_the_connection_with_1009() {
    let app = TestApp::spawn().await;
    let (_, token) = app.visitor("Vera").await;
    let mut ws = WsClient::connect(&app, &token).await;

    let padding = "x".repeat(70 * 1024);
    ws.send(json!({"type": "ping", "ref": "big", "padding": padding}));

    assert_eq!(ws.closed().await, 1009);
}

#[actix_web::test]
async fn a_flooding_client_is_rate_limited_then_closed_with_1008() {
    let app = TestApp::spawn_with(&["--ws-rate-per-sec", "5"]).await;
    let (_, token) = app.visitor("Vera").await;
    let mut ws = WsClient::connect(&app, &token).await;

    for i in 0..100 {
        ws.send(json!({"type": "ping", "ref": format!("p{i}")}));
    }
    let code = ws.closed().await;

    let frames = ws.take_buffered();
    let pongs = frames.iter().filter(|f| f["type"] == "pong").count();
    let limited = frames
        .iter()
        .filter(|f| f["type"] == "error" && f["code"] == "rate_limited")
        .count();
    assert!((5..100).contains(&pongs), "{pongs} pongs");
    assert!(limited >= 1, "no rate_limited error in {frames:?}");
    assert_eq!(code, 1008);
}

#[actix_web::test]
async fn a_websocket_upgrade_without_a_valid_token_gets_401() {
    let app = TestApp::spawn().await;
    let (_, token) = app.visitor("Vera").await;

    assert_eq!(WsClient::upgrade_status(&app, None).await, 401);
    assert_eq!(WsClient::upgrade_status(&app, Some("garbage")).await, 401);
    assert_eq!(WsClient::upgrade_status(&app, Some(&token)).await, 101);
}
