//! Scheduled messages (SPEC section 10): a specialist's `message.send` with `send_at` is
//! stored at once and sent at its time as an ordinary message, also across a restart;
//! it can be unscheduled, and it is cancelled when the session ends or is transferred.

mod common;

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use common::process::{eventually, query_i64, query_text, ServerProcess, TestDatabase};
use common::ws::{assert_error, Chat, WsClient};
use common::TestApp;
use serde_json::{json, Value};

const FLAGS: &[&str] = &["--auto-accept", "true"];

fn schedule_frame(session_id: &str, body: &str, send_at: DateTime<Utc>) -> Value {
    json!({"type": "message.send", "session_id": session_id,
           "client_msg_id": uuid::Uuid::new_v4().to_string(), "body": body,
           "send_at": send_at.to_rfc3339()})
}

fn in_millis(millis: i64) -> DateTime<Utc> {
    Utc::now() + TimeDelta::milliseconds(millis)
}

/// Schedules `body` and returns the `message.scheduled` reply.
async fn schedule(specialist: &mut WsClient, session_id: &str, body: &str, millis: i64) -> Value {
    specialist
        .expect_reply(
            schedule_frame(session_id, body, in_millis(millis)),
            "message.scheduled",
        )
        .await
}

/// The session's scheduled messages as `token` sees them.
async fn scheduled_list(app: &TestApp, session_id: &str, token: &str) -> Vec<Value> {
    let (status, body) = app
        .get(&format!("/api/v1/sessions/{session_id}/scheduled"), token)
        .await;
    assert_eq!(status, 200, "{body}");
    body["scheduled"].as_array().expect("a list").clone()
}

/// Polls the list until the scheduled message has left `pending`; returns its state.
async fn settled_state(app: &TestApp, session_id: &str, token: &str, id: &Value) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let list = scheduled_list(app, session_id, token).await;
        let entry = list
            .iter()
            .find(|entry| &entry["id"] == id)
            .unwrap_or_else(|| panic!("{id} not listed: {list:?}"))
            .clone();
        if entry["state"] != "pending" {
            return entry["state"].as_str().expect("a state").to_owned();
        }
        assert!(Instant::now() < deadline, "still pending: {entry}");
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    }
}

#[actix_web::test]
async fn a_scheduled_message_arrives_at_its_time_with_the_next_seq() {
    let app = TestApp::spawn().await;
    let mut chat = Chat::open(&app).await;
    let session = chat.session_id.clone();
    let question = chat.visitor.say(&session, "when do you open?").await;
    let send_at = in_millis(2000);

    let frame = schedule_frame(&session, "We open at nine.", send_at);
    let scheduled = chat
        .specialist
        .expect_reply(frame.clone(), "message.scheduled")
        .await;
    let resent = chat
        .specialist
        .expect_reply(frame, "message.scheduled")
        .await;

    assert_eq!(resent["scheduled_id"], scheduled["scheduled_id"]);
    let stored_at: DateTime<Utc> = scheduled["send_at"].as_str().unwrap().parse().unwrap();
    assert!(
        (stored_at - send_at).num_milliseconds().abs() < 1,
        "{scheduled}"
    );
    chat.visitor.expect_no("message.new", 1000).await;
    let arrived = chat
        .visitor
        .recv_type_within("message.new", Duration::from_secs(6))
        .await["message"]
        .clone();
    assert!(Utc::now() >= send_at, "arrived before its time");
    assert_eq!(arrived["body"], "We open at nine.");
    assert_eq!(arrived["kind"], "text");
    assert_eq!(arrived["sender"]["type"], "specialist");
    assert_eq!(arrived["sender"]["id"], chat.specialist_id.as_str());
    assert_eq!(arrived["seq"], question["seq"].as_i64().unwrap() + 1);
    chat.specialist
        .recv_where("its own copy", Duration::from_secs(5), |frame| {
            frame["type"] == "message.new" && frame["message"]["id"] == arrived["id"]
        })
        .await;

    let (_, history) = app
        .get(
            &format!("/api/v1/sessions/{session}/messages"),
            &chat.specialist_token,
        )
        .await;
    let last = history["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["id"], arrived["id"]);
    assert_eq!(last["seq"], arrived["seq"]);
    let (_, shown) = app
        .get(
            &format!("/api/v1/sessions/{session}"),
            &chat.specialist_token,
        )
        .await;
    assert!(shown["session"]["first_response_at"].is_string(), "{shown}");
    let list = scheduled_list(&app, &session, &chat.specialist_token).await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["state"], "sent");
    assert_eq!(list[0]["body"], "We open at nine.");
}

#[actix_web::test]
async fn a_scheduled_message_is_sent_at_its_time_after_a_restart() {
    let database = TestDatabase::fresh();
    let mut server = ServerProcess::start(&database.name, FLAGS).await;
    let mut chat = Chat::open(&server).await;
    let session = chat.session_id.clone();
    let before = chat.visitor.say(&session, "hello").await;
    let scheduled = schedule(
        &mut chat.specialist,
        &session,
        "Still here after a restart.",
        3000,
    )
    .await;

    server.kill9();
    let server = ServerProcess::start(&database.name, FLAGS).await;

    let mut conn = database.connect();
    let id = scheduled["scheduled_id"].as_str().unwrap().to_owned();
    let seq = eventually(
        "the scheduled message sent",
        Duration::from_secs(15),
        || {
            let state = query_text(
                &mut conn,
                &format!("SELECT state FROM scheduled_messages WHERE id = '{id}'"),
            );
            (state.as_deref() == Some("sent")).then(|| {
                query_i64(
                    &mut conn,
                    &format!(
                        "SELECT message_seq::bigint FROM scheduled_messages WHERE id = '{id}'"
                    ),
                )
            })
        },
    )
    .await;
    assert_eq!(seq, before["seq"].as_i64().unwrap() + 1);
    let on_time = query_i64(
        &mut conn,
        &format!(
            "SELECT count(*) FROM scheduled_messages WHERE id = '{id}' AND sent_at >= send_at"
        ),
    );
    assert_eq!(on_time, 1, "sent before its time");
    let copies = query_i64(
        &mut conn,
        &format!(
            "SELECT count(*) FROM messages WHERE session_id = '{session}' \
             AND body = 'Still here after a restart.'"
        ),
    );
    assert_eq!(copies, 1);
    let mut visitor = WsClient::connect(&server, &chat.visitor_token).await;
    let state = visitor
        .expect_reply(
            json!({"type": "session.resume", "session_id": session, "after_seq": before["seq"]}),
            "session.state",
        )
        .await;
    let messages = state["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "{state}");
    assert_eq!(messages[0]["body"], "Still here after a restart.");
    assert_eq!(messages[0]["seq"], seq);
}

#[actix_web::test]
async fn an_unscheduled_message_is_never_sent() {
    let app = TestApp::spawn().await;
    let mut chat = Chat::open(&app).await;
    let session = chat.session_id.clone();
    let scheduled = schedule(&mut chat.specialist, &session, "Never mind.", 1500).await;
    let unschedule = json!({"type": "message.unschedule",
                            "scheduled_id": scheduled["scheduled_id"]});

    let reply = chat
        .specialist
        .expect_reply(unschedule.clone(), "message.unscheduled")
        .await;

    assert_eq!(reply["scheduled_id"], scheduled["scheduled_id"]);
    assert_error(&chat.specialist.request(unschedule).await, &["conflict"]);
    chat.visitor.expect_no("message.new", 2500).await;
    chat.specialist.expect_no("message.new", 0).await;
    let list = scheduled_list(&app, &session, &chat.specialist_token).await;
    assert_eq!(list[0]["state"], "cancelled");
    let unknown = chat
        .specialist
        .request(json!({"type": "message.unschedule",
                        "scheduled_id": uuid::Uuid::new_v4()}))
        .await;
    assert_error(&unknown, &["not_found"]);
}

#[actix_web::test]
async fn only_its_author_or_an_admin_may_unschedule_a_message() {
    let app = TestApp::spawn().await;
    let mut chat = Chat::open(&app).await;
    let session = chat.session_id.clone();
    let admin = app.admin_token().await;
    let (_, other_token) = app.specialist(&admin, "olga@example.com", json!({})).await;
    let mut other = WsClient::connect(&app, &other_token).await;
    let mut admin_ws = WsClient::connect(&app, &admin).await;
    let scheduled = schedule(&mut chat.specialist, &session, "Later.", 60_000).await;
    let unschedule = json!({"type": "message.unschedule",
                            "scheduled_id": scheduled["scheduled_id"]});

    assert_error(&other.request(unschedule.clone()).await, &["forbidden"]);
    assert_error(
        &chat.visitor.request(unschedule.clone()).await,
        &["forbidden"],
    );
    admin_ws
        .expect_reply(unschedule, "message.unscheduled")
        .await;
}

#[actix_web::test]
async fn a_scheduled_message_of_an_ended_session_is_cancelled() {
    let app = TestApp::spawn().await;
    let mut chat = Chat::open(&app).await;
    let session = chat.session_id.clone();
    let scheduled = schedule(&mut chat.specialist, &session, "Are you still there?", 1000).await;

    chat.visitor.end_session(&session).await;

    let state = settled_state(
        &app,
        &session,
        &chat.specialist_token,
        &scheduled["scheduled_id"],
    )
    .await;
    assert_eq!(state, "cancelled");
    chat.visitor.expect_no("message.new", 1500).await;
}

#[actix_web::test]
async fn a_scheduled_message_is_cancelled_when_its_specialist_transferred_the_session() {
    let app = TestApp::spawn().await;
    let mut chat = Chat::open(&app).await;
    let session = chat.session_id.clone();
    let scheduled = schedule(&mut chat.specialist, &session, "Following up.", 1500).await;

    chat.specialist
        .expect_reply(
            json!({"type": "session.transfer", "session_id": session}),
            "session.transferred",
        )
        .await;

    let state = settled_state(
        &app,
        &session,
        &chat.specialist_token,
        &scheduled["scheduled_id"],
    )
    .await;
    assert_eq!(state, "cancelled");
    let copies = query_i64(
        &mut app.db(),
        "SELECT count(*) FROM messages WHERE body = 'Following up.'",
    );
    assert_eq!(copies, 0);
}

#[actix_web::test]
async fn scheduling_refuses_past_and_far_times_and_visitors() {
    let app = TestApp::spawn().await;
    let mut chat = Chat::open(&app).await;
    let session = chat.session_id.clone();

    let past = chat
        .specialist
        .request(schedule_frame(&session, "Too late.", in_millis(-1000)))
        .await;
    let far = chat
        .specialist
        .request(schedule_frame(
            &session,
            "Next week.",
            Utc::now() + TimeDelta::days(7) + TimeDelta::minutes(1),
        ))
        .await;
    let by_visitor = chat
        .visitor
        .request(schedule_frame(&session, "Remind me.", in_millis(60_000)))
        .await;
    let empty = chat
        .specialist
        .request(schedule_frame(&session, "   ", in_millis(60_000)))
        .await;

    assert_error(&past, &["bad_request"]);
    assert_error(&far, &["bad_request"]);
    assert_error(&by_visitor, &["forbidden"]);
    assert_error(&empty, &["bad_request"]);
    assert!(scheduled_list(&app, &session, &chat.specialist_token)
        .await
        .is_empty());
}

#[actix_web::test]
async fn only_a_specialist_who_may_send_now_schedules() {
    let app = TestApp::spawn().await;
    let mut chat = Chat::open(&app).await;
    let session = chat.session_id.clone();
    let admin = app.admin_token().await;
    let (_, other_token) = app.specialist(&admin, "olga@example.com", json!({})).await;
    let mut other = WsClient::connect(&app, &other_token).await;
    let mut admin_ws = WsClient::connect(&app, &admin).await;

    let by_other = other
        .request(schedule_frame(&session, "Hi.", in_millis(60_000)))
        .await;
    let by_admin = admin_ws
        .request(schedule_frame(&session, "Hi.", in_millis(60_000)))
        .await;
    chat.visitor.end_session(&session).await;
    let after_end = chat
        .specialist
        .request(schedule_frame(&session, "Hi.", in_millis(60_000)))
        .await;

    assert_error(&by_other, &["forbidden"]);
    assert_error(&by_admin, &["forbidden"]);
    assert_error(&after_end, &["conflict"]);
}

#[actix_web::test]
async fn only_the_sessions_specialists_and_admins_see_its_scheduled_messages() {
    let app = TestApp::spawn().await;
    let mut chat = Chat::open(&app).await;
    let session = chat.session_id.clone();
    let admin = app.admin_token().await;
    let (_, other_token) = app.specialist(&admin, "olga@example.com", json!({})).await;
    let (_, bot_token) = app.bot(&admin, "Intake").await;
    schedule(&mut chat.specialist, &session, "Soon.", 60_000).await;
    let path = format!("/api/v1/sessions/{session}/scheduled");

    assert_eq!(scheduled_list(&app, &session, &admin).await.len(), 1);
    assert_eq!(app.get(&path, &other_token).await.0, 403);
    assert_eq!(app.get(&path, &chat.visitor_token).await.0, 403);
    assert_eq!(app.get(&path, &bot_token).await.0, 403);
    let unknown = format!("/api/v1/sessions/{}/scheduled", uuid::Uuid::new_v4());
    assert_eq!(app.get(&unknown, &admin).await.0, 404);
    chat.specialist
        .expect_reply(
            json!({"type": "session.transfer", "session_id": session}),
            "session.transferred",
        )
        .await;
    let after_transfer = scheduled_list(&app, &session, &chat.specialist_token).await;
    assert_eq!(after_transfer.len(), 1, "a past specialist still sees it");
}

/// Uploads a small text file to the session as `token`; returns the attachment id.
async fn upload_text(app: &TestApp, session_id: &str, token: &str) -> String {
    let (status, uploaded) = app
        .upload(session_id, token, "hours.txt", b"Open 9 to 5.")
        .await;
    assert_eq!(status, 201, "{uploaded}");
    uploaded["attachment"]["id"].as_str().unwrap().to_owned()
}

#[actix_web::test]
async fn a_scheduled_file_arrives_as_a_file_message_with_its_caption() {
    let app = TestApp::spawn().await;
    let mut chat = Chat::open(&app).await;
    let session = chat.session_id.clone();
    let attachment_id = upload_text(&app, &session, &chat.specialist_token).await;
    let mut frame = schedule_frame(&session, "Our hours", in_millis(1000));
    frame["attachment_id"] = json!(attachment_id);

    chat.specialist
        .expect_reply(frame, "message.scheduled")
        .await;

    let arrived = chat
        .visitor
        .recv_type_within("message.new", Duration::from_secs(6))
        .await["message"]
        .clone();
    assert_eq!(arrived["kind"], "file");
    assert_eq!(arrived["body"], "Our hours");
    assert_eq!(arrived["attachment"]["id"], attachment_id.as_str());
    assert_eq!(arrived["attachment"]["file_name"], "hours.txt");
}
