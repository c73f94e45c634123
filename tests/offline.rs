//! When nobody can answer (SPEC section 14), against a real SMTP server: a visitor leaves
//! a message, a specialist takes it from "Needs reply" and answers, the answer reaches the
//! visitor by mail while they are away, and the conversation goes on live when they come
//! back; a waiting visitor switches to a message; outside business hours a chat cannot
//! start; mail written while the mail server is down goes out when it is back, and the
//! chat never waits for it.

mod common;

use std::time::{Duration, Instant};

use chrono::{Days, Utc};
use common::nats::NatsServer;
use common::process::{ServerProcess, TestDatabase};
use common::smtp::{free_port, smtp_url, ReceivedMail, SmtpServer};
use common::ws::{assert_error, Server, WsClient};
use common::TestApp;
use serde_json::{json, Value};

const QUESTION: &str = "My order 1234 never arrived. <b>Help</b>";
const REPLY: &str = "We sent a new parcel today, tracking 42.";
const MAIL_TIMEOUT: Duration = Duration::from_secs(20);
/// Names crafted to add a recipient if they reached a header as they are: one with a
/// line break (refused at the door) and one that looks like more addresses.
const BROKEN_NAME: &str = "Eve\r\nBcc: victim@example.net";
const CRAFTED_NAME: &str = "Eve, Mallory <victim@example.net>";

/// An admin and a specialist with a console open (not taking chats).
struct Desk {
    admin: String,
    specialist: WsClient,
    specialist_token: String,
}

async fn desk(app: &TestApp) -> Desk {
    let admin = app.admin_token().await;
    let (_, specialist_token) = app.specialist(&admin, "sam@example.com", json!({})).await;
    let specialist = WsClient::connect(app, &specialist_token).await;
    Desk {
        admin,
        specialist,
        specialist_token,
    }
}

async fn visitor_token(app: &TestApp) -> String {
    let (status, body) = app
        .call("POST", "/api/v1/visitors", None, Some(json!({})))
        .await;
    assert_eq!(status, 201, "{body}");
    body["token"].as_str().expect("a token").to_owned()
}

fn leave(extra: Value) -> Value {
    let mut frame = json!({
        "type": "message.leave",
        "email": "Ann@Example.com",
        "name": "Ann",
        "phone": "+49 30 123456",
        "callback": true,
        "body": QUESTION,
    });
    common::ws::merge(&mut frame, extra);
    frame
}

/// The visitor leaves the usual message; returns its session's id.
async fn leave_a_message(visitor: &mut WsClient) -> String {
    let left = visitor
        .expect_reply(leave(json!({})), "session.offline")
        .await;
    left["session"]["id"].as_str().expect("an id").to_owned()
}

/// The offline sessions the specialist's "Needs reply" list shows.
async fn needs_reply(app: &TestApp, token: &str) -> Vec<Value> {
    let (status, body) = app.get("/api/v1/sessions?status=offline", token).await;
    assert_eq!(status, 200, "{body}");
    body["sessions"].as_array().expect("a list").clone()
}

async fn queue_length(app: &TestApp, admin: &str) -> u64 {
    let (status, body) = app.get("/api/v1/queue", admin).await;
    assert_eq!(status, 200, "{body}");
    body["length"].as_u64().expect("a length")
}

/// The specialist takes the left message `id` and answers it; returns the ack.
async fn take_and_answer(desk: &mut Desk, id: &str) -> Value {
    let state = desk
        .specialist
        .expect_reply(
            json!({"type": "session.pickup", "session_id": id}),
            "session.state",
        )
        .await;
    assert_eq!(state["session"]["status"], "offline");
    assert_eq!(state["messages"][0]["body"], QUESTION);
    desk.specialist.say(id, REPLY).await
}

/// The visitor back at the widget: `session.resume` of `id` from the start.
async fn resume(visitor: &mut WsClient, id: &str) -> Value {
    visitor
        .expect_reply(
            json!({"type": "session.resume", "session_id": id, "after_seq": 0}),
            "session.state",
        )
        .await
}

fn reply_mails(mails: &[ReceivedMail]) -> Vec<&ReceivedMail> {
    mails.iter().filter(|m| m.body.contains(REPLY)).collect()
}

#[actix_web::test]
async fn a_left_message_is_answered_by_mail_and_goes_on_live_when_the_visitor_returns() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with(&["--smtp-url", &smtp.url()]).await;
    let mut desk = desk(&app).await;
    let token = visitor_token(&app).await;
    let mut visitor = WsClient::connect(&app, &token).await;
    let refused = visitor.request(leave(json!({ "name": BROKEN_NAME }))).await;
    assert_error(&refused, &["bad_request"]);
    let left = visitor
        .expect_reply(leave(json!({ "name": CRAFTED_NAME })), "session.offline")
        .await;
    let session = &left["session"];
    assert_eq!(session["status"], "offline");
    assert!(
        session["visitor"].get("email").is_none(),
        "visitors see no e-mail"
    );
    let id = session["id"].as_str().expect("an id").to_owned();
    assert_eq!(queue_length(&app, &desk.admin).await, 0, "never queued");
    visitor.disconnect().await;

    let listed = needs_reply(&app, &desk.specialist_token).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(listed[0]["visitor"]["phone"], "+49 30 123456");
    assert_eq!(listed[0]["visitor"]["email"], "ann@example.com");
    assert_eq!(listed[0]["callback"], true);
    assert!(listed[0]["left_message_at"].is_string(), "{}", listed[0]);
    assert!(
        session.get("left_message_at").is_none(),
        "staff only: {session}"
    );

    let ack = take_and_answer(&mut desk, &id).await;
    assert_eq!(ack["body"], REPLY);
    let mails = smtp.wait_for(1, MAIL_TIMEOUT).await;
    let mail = reply_mails(&mails)[0];
    assert_eq!(mail.recipients(), vec!["ann@example.com".to_owned()]);
    assert!(mail.all("Bcc").is_empty(), "{:?}", mail.headers);
    let to = mail.all("To");
    assert_eq!(to.len(), 1);
    assert!(to[0].ends_with("<ann@example.com>"), "{to:?}");
    // The name travels quoted or encoded, never as addresses of its own.
    assert!(to[0].starts_with('"') || to[0].starts_with("=?"), "{to:?}");
    assert!(mail
        .header("Content-Type")
        .unwrap()
        .starts_with("text/plain"));
    assert!(mail.body.contains(REPLY), "{}", mail.body);

    // Back at the widget: the reply is there, and the conversation goes on live.
    let mut visitor = WsClient::connect(&app, &token).await;
    assert_eq!(visitor.hello["sessions"][0]["id"], id.as_str());
    let state = resume(&mut visitor, &id).await;
    assert_eq!(state["session"]["status"], "active");
    let bodies: Vec<&str> = state["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["body"].as_str())
        .collect();
    assert_eq!(bodies, vec![QUESTION, REPLY]);
    desk.specialist.say(&id, "Anything else?").await;
    let live = visitor.recv_type("message.new").await;
    assert_eq!(live["message"]["body"], "Anything else?");
    visitor.say(&id, "No, thanks!").await;
    actix_web::rt::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(smtp.received().len(), 1, "no mail once the visitor is back");
    assert!(needs_reply(&app, &desk.specialist_token).await.is_empty());
}

#[actix_web::test]
async fn a_left_message_is_visible_to_every_specialist_until_one_takes_it() {
    let app = TestApp::spawn().await;
    let mut desk = desk(&app).await;
    let (_, other_token) = app
        .specialist(&desk.admin, "kim@example.com", json!({}))
        .await;
    let mut other = WsClient::connect(&app, &other_token).await;
    let mut visitor = WsClient::connect(&app, &visitor_token(&app).await).await;
    let id = leave_a_message(&mut visitor).await;
    assert_eq!(needs_reply(&app, &other_token).await.len(), 1);
    let (status, page) = app
        .get(&format!("/api/v1/sessions/{id}/messages"), &other_token)
        .await;
    assert_eq!(
        status, 200,
        "a specialist reads it before taking it: {page}"
    );
    assert_eq!(page["messages"][0]["body"], QUESTION);

    take_and_answer(&mut desk, &id).await;
    let taken = other
        .request(json!({"type": "session.pickup", "session_id": id}))
        .await;
    assert_error(&taken, &["conflict"]);
    assert!(needs_reply(&app, &other_token).await.is_empty());
    assert_eq!(needs_reply(&app, &desk.specialist_token).await.len(), 1);
    let (status, _) = app
        .get(&format!("/api/v1/sessions/{id}/messages"), &other_token)
        .await;
    assert_eq!(status, 403, "once taken it is its specialist's");
    let refused = visitor
        .request(leave(json!({ "email": "not an address" })))
        .await;
    assert_error(&refused, &["bad_request"]);
}

#[actix_web::test]
async fn a_waiting_visitor_leaves_a_message_instead_and_leaves_the_queue() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut visitor = WsClient::connect(&app, &visitor_token(&app).await).await;
    let session = visitor.start_session(json!({})).await;
    let id = session["id"].as_str().unwrap().to_owned();
    assert_eq!(queue_length(&app, &admin).await, 1);
    let left = visitor
        .expect_reply(leave(json!({ "session_id": id })), "session.offline")
        .await;
    assert_eq!(left["session"]["id"], id.as_str());
    assert_eq!(left["session"]["status"], "offline");
    let deadline = Instant::now() + Duration::from_secs(5);
    while queue_length(&app, &admin).await != 0 {
        assert!(Instant::now() < deadline, "still queued");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    // A specialist coming online is offered nothing.
    let (_, token) = app.specialist(&admin, "sam@example.com", json!({})).await;
    let mut specialist = WsClient::connect(&app, &token).await;
    specialist.go_online().await;
    specialist.expect_no("offer", 1500).await;
    let (status, stats) = app.get("/api/v1/stats", &admin).await;
    assert_eq!(status, 200);
    assert_eq!(stats["offline"], 1, "{stats}");
    assert_eq!(stats["waiting"], 0, "{stats}");
}

#[actix_web::test]
async fn an_offer_ends_when_its_visitor_leaves_a_message_or_the_chat_and_is_not_made_again() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, token) = app.specialist(&admin, "sam@example.com", json!({})).await;
    let mut specialist = WsClient::connect(&app, &token).await;
    specialist.go_online().await;
    for leaves in [true, false] {
        let mut visitor = WsClient::connect(&app, &visitor_token(&app).await).await;
        let session = visitor.start_session(json!({})).await;
        let offer = specialist.recv_type("offer").await;
        assert_eq!(offer["session"]["id"], session["id"]);
        if leaves {
            let frame = leave(json!({ "session_id": session["id"] }));
            visitor.expect_reply(frame, "session.offline").await;
        } else {
            visitor.end_session(session["id"].as_str().unwrap()).await;
        }
        let revoked = specialist.recv_type("offer.revoked").await;
        assert_eq!(revoked["offer_id"], offer["offer_id"]);
        specialist.expect_no("offer", 1500).await;
    }
}

#[actix_web::test]
async fn a_visitor_back_after_their_specialist_left_is_served_by_someone_who_is_here() {
    let app = TestApp::spawn_with(&["--specialist-grace-secs", "1"]).await;
    let mut desk = desk(&app).await;
    let token = visitor_token(&app).await;
    let mut visitor = WsClient::connect(&app, &token).await;
    let id = leave_a_message(&mut visitor).await;
    visitor.disconnect().await;
    take_and_answer(&mut desk, &id).await;
    desk.specialist.disconnect().await;
    let (_, kim) = app
        .specialist(&desk.admin, "kim@example.com", json!({}))
        .await;
    let mut kim = WsClient::connect(&app, &kim).await;
    kim.go_online().await;
    actix_web::rt::time::sleep(Duration::from_secs(3)).await;

    let mut visitor = WsClient::connect(&app, &token).await;
    let state = resume(&mut visitor, &id).await;
    assert_eq!(state["messages"][1]["body"], REPLY, "the answer is there");
    let offer = kim.recv_type("offer").await;
    assert_eq!(offer["session"]["id"], id.as_str());
    assert_eq!(offer["session"]["priority"], "high");
}

#[actix_web::test]
async fn a_left_message_is_found_listed_and_written_out_like_any_conversation() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut visitor = WsClient::connect(&app, &visitor_token(&app).await).await;
    let id = leave_a_message(&mut visitor).await;
    let ids = |body: &Value, list: &str| -> Vec<String> {
        body[list]
            .as_array()
            .unwrap_or_else(|| panic!("{body}"))
            .iter()
            .map(|entry| entry["id"].as_str().unwrap_or_default().to_owned())
            .collect()
    };

    let (status, listed) = app.get("/api/v1/sessions?status=offline", &admin).await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(ids(&listed, "sessions"), vec![id.clone()]);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, found) = app
            .get(
                "/api/v1/conversations?status=offline&q=order%20arrived",
                &admin,
            )
            .await;
        assert_eq!(status, 200, "{found}");
        if ids(&found, "sessions") == vec![id.clone()] {
            break;
        }
        assert!(Instant::now() < deadline, "not found by search: {found}");
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, transcript) = app
        .get(
            &format!("/api/v1/sessions/{id}/transcript?format=json"),
            &admin,
        )
        .await;
    assert_eq!(status, 200, "{transcript}");
    assert_eq!(transcript["session"]["status"], "offline", "{transcript}");
    let (status, figures) = app
        .get(&format!("/api/v1/sessions/{id}/analytics"), &admin)
        .await;
    assert_eq!(status, 200, "{figures}");
    assert_eq!(figures["messages"]["visitor"], 1, "{figures}");
}

#[actix_web::test]
async fn a_specialist_with_every_chat_slot_taken_still_takes_a_left_message() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let profile = json!({"max_concurrent_chats": 1});
    let (_, token) = app.specialist(&admin, "sam@example.com", profile).await;
    let mut specialist = WsClient::connect(&app, &token).await;
    specialist.go_online().await;
    let mut chatting = WsClient::connect(&app, &visitor_token(&app).await).await;
    chatting.start_session(json!({})).await;
    specialist.accept_next_offer().await;

    let mut visitor = WsClient::connect(&app, &visitor_token(&app).await).await;
    let id = leave_a_message(&mut visitor).await;
    let state = specialist
        .expect_reply(
            json!({"type": "session.pickup", "session_id": id}),
            "session.state",
        )
        .await;
    assert_eq!(state["session"]["specialist"]["id"], specialist.me());
}

#[actix_web::test]
async fn outside_business_hours_a_chat_is_refused_with_the_next_opening() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let today = Utc::now().date_naive();
    let tomorrow = today.checked_add_days(Days::new(1)).unwrap();
    let all_day = json!([["00:00", "24:00"]]);
    let hours = json!({
        "time_zone": "UTC",
        "weekly": {"mon": all_day, "tue": all_day, "wed": all_day, "thu": all_day,
                   "fri": all_day, "sat": all_day, "sun": all_day},
        "closed_dates": [today.to_string()],
    });
    let (status, body) = app
        .call("PUT", "/api/v1/business-hours", Some(&admin), Some(hours))
        .await;
    assert_eq!(status, 200, "{body}");

    let mut visitor = WsClient::connect(&app, &visitor_token(&app).await).await;
    let refused = visitor.request(json!({"type": "session.start"})).await;
    assert_error(&refused, &["conflict"]);
    let opening = format!("{tomorrow}T00:00:00Z");
    assert!(
        refused["message"].as_str().unwrap().contains(&opening),
        "{refused}"
    );
    // A message can still be left, and starting again hands it back.
    let left = visitor
        .expect_reply(leave(json!({})), "session.offline")
        .await;
    let again = visitor
        .expect_reply(json!({"type": "session.start"}), "session.started")
        .await;
    assert_eq!(again["session"]["id"], left["session"]["id"]);
    assert_eq!(again["session"]["status"], "offline");
}

#[actix_web::test]
async fn with_the_mail_server_down_replies_wait_in_the_outbox_and_the_chat_does_not() {
    let port = free_port();
    let app = TestApp::spawn_with(&["--smtp-url", &smtp_url(port)]).await;
    let mut desk = desk(&app).await;
    let mut visitor = WsClient::connect(&app, &visitor_token(&app).await).await;
    let id = leave_a_message(&mut visitor).await;
    visitor.disconnect().await;
    take_and_answer(&mut desk, &id).await;
    let mut slowest = Duration::ZERO;
    for n in 0..5 {
        let sent = Instant::now();
        desk.specialist.say(&id, &format!("{REPLY} ({n})")).await;
        slowest = slowest.max(sent.elapsed());
    }
    assert!(
        slowest < Duration::from_secs(1),
        "an ack waited {slowest:?} for the mail server"
    );
    let deadline = Instant::now() + MAIL_TIMEOUT;
    let pending = loop {
        let (status, body) = app.get("/api/v1/mail", &desk.admin).await;
        assert_eq!(status, 200, "{body}");
        let mail = body["mail"].as_array().unwrap().clone();
        if mail.len() == 6 && mail.iter().all(|m| m["attempts"].as_i64() > Some(0)) {
            break mail;
        }
        assert!(Instant::now() < deadline, "not tried: {body}");
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(pending
        .iter()
        .all(|m| m["status"] == "pending" && m["last_error"].is_string()));

    let smtp = SmtpServer::start_on(port).await;
    let mails = smtp.wait_for(6, Duration::from_secs(60)).await;
    assert_eq!(reply_mails(&mails).len(), 6);
    assert!(mails
        .iter()
        .all(|m| m.recipients() == vec!["ann@example.com".to_owned()]));
}

#[actix_web::test]
async fn in_a_cluster_a_message_left_on_one_node_is_taken_on_another_and_mailed_once() {
    let smtp = SmtpServer::start().await;
    let nats_port = common::nats::free_port();
    let _nats = NatsServer::start(nats_port);
    let database = TestDatabase::fresh();
    let nats = format!("nats://127.0.0.1:{nats_port}");
    let smtp_url = smtp.url();
    let mut nodes = Vec::new();
    for name in ["node-1", "node-2"] {
        let flags = [
            "--nats-url",
            nats.as_str(),
            "--node-id",
            name,
            "--smtp-url",
            smtp_url.as_str(),
        ];
        nodes.push(ServerProcess::start(&database.name, &flags).await);
    }
    let (_, specialist) = nodes[1].new_specialist("sam@example.com", json!({})).await;
    let mut console = WsClient::connect(&nodes[1], &specialist).await;
    let (_, visitor_token) = nodes[0].new_visitor("Ann").await;
    let mut visitor = WsClient::connect(&nodes[0], &visitor_token).await;
    let id = leave_a_message(&mut visitor).await;
    visitor.disconnect().await;

    let state = console
        .expect_reply(
            json!({"type": "session.pickup", "session_id": id}),
            "session.state",
        )
        .await;
    assert_eq!(state["messages"][0]["body"], QUESTION);
    console.say(&id, REPLY).await;
    let mails = smtp.wait_for(1, MAIL_TIMEOUT).await;
    assert_eq!(reply_mails(&mails).len(), 1);
    actix_web::rt::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(smtp.received().len(), 1, "one node sends it, once");

    // Back on the other node, the visitor finds the reply and goes on live.
    let mut visitor = WsClient::connect(&nodes[0], &visitor_token).await;
    let state = resume(&mut visitor, &id).await;
    assert_eq!(state["session"]["status"], "active");
    assert_eq!(state["messages"][1]["body"], REPLY);
    visitor.say(&id, "Thanks!").await;
    let live = console.recv_type("message.new").await;
    assert_eq!(live["message"]["body"], "Thanks!");
}
