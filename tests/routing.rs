//! Routing (SPEC section 6): who gets offered which waiting chat, when, and what happens
//! when offers are declined or expire, chats are transferred or picked up, visitors leave
//! and specialists disappear.

mod common;

use std::time::Duration;

use common::process::{eventually, query_i64, query_text};
use common::ws::{assert_error, Chat, Server, WsClient};
use common::TestApp;
use serde_json::{json, Value};

async fn specialist(app: &TestApp, email: &str, profile: Value) -> WsClient {
    let (_, token) = app.new_specialist(email, profile).await;
    WsClient::connect(app, &token).await
}

async fn online_specialist(app: &TestApp, email: &str, profile: Value) -> WsClient {
    let mut ws = specialist(app, email, profile).await;
    ws.go_online().await;
    ws
}

/// A connected visitor who started a session with these fields; returns the
/// connection and the session.
async fn waiting_visitor(app: &TestApp, name: &str, fields: Value) -> (WsClient, Value) {
    let (_, token) = app.new_visitor(name).await;
    let mut ws = WsClient::connect(app, &token).await;
    let session = ws.start_session(fields).await;
    (ws, session)
}

fn session_column(app: &TestApp, session: &Value, column: &str) -> String {
    query_text(
        &mut app.db(),
        &format!(
            "SELECT {column} FROM chat_sessions WHERE id = '{}'",
            session["id"].as_str().unwrap()
        ),
    )
    .unwrap_or_default()
}

fn highest_seq(app: &TestApp, session_id: &str) -> i64 {
    query_i64(
        &mut app.db(),
        &format!(
            "SELECT coalesce(max(seq), 0)::bigint FROM messages WHERE session_id = '{session_id}'"
        ),
    )
}

fn is_system_message_after(frame: &Value, seq: i64) -> bool {
    frame["type"] == "message.new"
        && frame["message"]["kind"] == "system"
        && frame["message"]["seq"].as_i64() > Some(seq)
}

#[actix_web::test]
async fn a_medium_session_is_offered_before_an_earlier_low_one() {
    let app = TestApp::spawn().await;
    let (_low_visitor, low) = waiting_visitor(&app, "Lou", json!({"priority": "low"})).await;
    let (_medium_visitor, medium) =
        waiting_visitor(&app, "Mia", json!({"priority": "medium"})).await;

    let mut sam =
        online_specialist(&app, "sam@example.com", json!({"max_concurrent_chats": 1})).await;
    let first = sam.recv_type("offer").await;
    sam.decline(&first).await;
    let second = sam.recv_type("offer").await;

    assert_eq!(first["session"]["id"], medium["id"]);
    assert_eq!(first["session"]["priority"], "medium");
    assert_eq!(second["session"]["id"], low["id"]);
}

#[actix_web::test]
async fn a_chat_needing_billing_in_german_goes_only_to_who_has_both() {
    let app = TestApp::spawn().await;
    let mut biller = online_specialist(
        &app,
        "bill@example.com",
        json!({"skills": ["billing"], "languages": ["en"]}),
    )
    .await;
    let mut german =
        online_specialist(&app, "greta@example.com", json!({"languages": ["de"]})).await;
    let mut both = online_specialist(
        &app,
        "bea@example.com",
        json!({"skills": ["billing"], "languages": ["de", "en"]}),
    )
    .await;

    let (_visitor, session) = waiting_visitor(
        &app,
        "Vera",
        json!({"skills": ["billing"], "language": "de"}),
    )
    .await;

    let offer = both.recv_type("offer").await;
    assert_eq!(offer["session"]["id"], session["id"]);
    both.decline(&offer).await;
    biller.expect_no("offer", 1000).await;
    german.expect_no("offer", 0).await;
}

#[actix_web::test]
async fn a_full_specialist_gets_no_offer_until_a_chat_ends() {
    let app = TestApp::spawn().await;
    let mut sam =
        online_specialist(&app, "sam@example.com", json!({"max_concurrent_chats": 1})).await;
    let (mut first, first_session) = waiting_visitor(&app, "Ann", json!({})).await;
    sam.accept_next_offer().await;

    let (_second, second_session) = waiting_visitor(&app, "Bob", json!({})).await;
    sam.expect_no("offer", 1000).await;
    first
        .end_session(first_session["id"].as_str().unwrap())
        .await;

    let offer = sam.recv_type("offer").await;
    assert_eq!(offer["session"]["id"], second_session["id"]);
}

#[actix_web::test]
async fn a_declined_offer_moves_on_and_never_comes_back() {
    let app = TestApp::spawn().await;
    let mut ann = online_specialist(&app, "ann@example.com", json!({})).await;
    let (_visitor, session) = waiting_visitor(&app, "Vera", json!({})).await;
    let first = ann.recv_type("offer").await;
    let mut ben = online_specialist(&app, "ben@example.com", json!({})).await;
    ben.expect_no("offer", 300).await;

    ann.decline(&first).await;
    let second = ben.recv_type("offer").await;
    ben.decline(&second).await;

    assert_eq!(second["session"]["id"], session["id"]);
    assert_ne!(second["offer_id"], first["offer_id"]);
    ann.expect_no("offer", 1500).await;
    ben.expect_no("offer", 0).await;
    assert_eq!(session_column(&app, &session, "status"), "waiting");
}

#[actix_web::test]
async fn an_expired_offer_is_revoked_moves_on_and_cannot_be_accepted_late() {
    let app = TestApp::spawn_with(&["--offer-timeout-secs", "1"]).await;
    let mut ann = online_specialist(&app, "ann@example.com", json!({})).await;
    let (_visitor, session) = waiting_visitor(&app, "Vera", json!({})).await;
    let offer = ann.recv_type("offer").await;
    let mut ben = online_specialist(&app, "ben@example.com", json!({})).await;

    let revoked = ann.recv_type("offer.revoked").await;
    let next = ben.recv_type("offer").await;
    let late = ann
        .request(json!({"type": "offer.accept", "offer_id": offer["offer_id"]}))
        .await;

    assert_eq!(revoked["offer_id"], offer["offer_id"]);
    assert!(revoked["reason"].is_string());
    assert_eq!(next["session"]["id"], session["id"]);
    assert_error(&late, &["conflict"]);
    ann.expect_no("offer", 2500).await;
}

#[actix_web::test]
async fn the_least_loaded_specialist_gets_the_next_offer() {
    let app = TestApp::spawn().await;
    let mut busy = online_specialist(&app, "ann@example.com", json!({})).await;
    let (_first_visitor, _) = waiting_visitor(&app, "Vera", json!({})).await;
    busy.accept_next_offer().await;
    let mut idle = online_specialist(&app, "ben@example.com", json!({})).await;

    let (_second_visitor, session) = waiting_visitor(&app, "Walt", json!({})).await;

    let offer = idle.recv_type("offer").await;
    assert_eq!(offer["session"]["id"], session["id"]);
    busy.expect_no("offer", 500).await;
}

#[actix_web::test]
async fn an_away_specialist_gets_no_offers() {
    let app = TestApp::spawn().await;
    let mut sam = specialist(&app, "sam@example.com", json!({})).await;
    sam.set_status("away").await;

    let (_visitor, session) = waiting_visitor(&app, "Vera", json!({})).await;
    sam.expect_no("offer", 1000).await;
    sam.go_online().await;

    assert_eq!(sam.recv_type("offer").await["session"]["id"], session["id"]);
}

#[actix_web::test]
async fn a_transfer_requeues_at_high_priority_and_tells_the_visitor() {
    let app = TestApp::spawn().await;
    let mut chat = Chat::open(&app).await;
    let mut ben = online_specialist(&app, "ben@example.com", json!({})).await;
    let before = highest_seq(&app, &chat.session_id);

    let reply = chat
        .specialist
        .expect_reply(
            json!({"type": "session.transfer", "session_id": chat.session_id,
                   "note": "needs someone from billing"}),
            "session.transferred",
        )
        .await;

    assert_eq!(reply["session_id"], chat.session_id.as_str());
    let told = chat.visitor.recv_type("session.transferred").await;
    assert_eq!(told["session_id"], chat.session_id.as_str());
    chat.visitor
        .recv_where("a system message", common::ws::RECV_TIMEOUT, |f| {
            is_system_message_after(f, before)
        })
        .await;
    let offer = ben.recv_type("offer").await;
    assert_eq!(offer["session"]["id"], chat.session_id.as_str());
    assert_eq!(offer["session"]["priority"], "high");
    chat.specialist.expect_no("offer", 500).await;
    let session = json!({"id": chat.session_id});
    assert_eq!(session_column(&app, &session, "priority"), "high");
}

#[actix_web::test]
async fn a_transfer_to_a_named_specialist_is_offered_to_them_only() {
    let app = TestApp::spawn().await;
    let mut chat = Chat::open(&app).await;
    let mut ben = online_specialist(&app, "ben@example.com", json!({})).await;
    let mut cleo = online_specialist(&app, "cleo@example.com", json!({})).await;

    chat.specialist
        .expect_reply(
            json!({"type": "session.transfer", "session_id": chat.session_id,
                   "to_specialist_id": cleo.me()}),
            "session.transferred",
        )
        .await;

    let offer = cleo.recv_type("offer").await;
    assert_eq!(offer["session"]["id"], chat.session_id.as_str());
    ben.expect_no("offer", 1000).await;
}

#[actix_web::test]
async fn a_transfer_to_an_offline_specialist_is_a_conflict() {
    let app = TestApp::spawn().await;
    let mut chat = Chat::open(&app).await;
    let (absent, _) = app.new_specialist("ben@example.com", json!({})).await;

    let reply = chat
        .specialist
        .request(
            json!({"type": "session.transfer", "session_id": chat.session_id,
                        "to_specialist_id": absent}),
        )
        .await;

    assert_error(&reply, &["conflict"]);
}

#[actix_web::test]
async fn a_specialist_watches_the_queue_and_picks_up_a_waiting_chat() {
    let app = TestApp::spawn().await;
    let mut sam = online_specialist(&app, "sam@example.com", json!({})).await;
    let (mut visitor, session) = waiting_visitor(&app, "Vera", json!({})).await;
    let offer = sam.recv_type("offer").await;

    let snapshot = sam
        .expect_reply(json!({"type": "queue.watch"}), "queue.snapshot")
        .await;
    assert_eq!(snapshot["waiting"][0]["session"]["id"], session["id"]);
    assert_eq!(snapshot["waiting"][0]["position"], 1);
    assert_eq!(snapshot["specialists"]["online"], 1);
    sam.decline(&offer).await;
    let state = sam
        .expect_reply(
            json!({"type": "session.pickup", "session_id": session["id"]}),
            "session.state",
        )
        .await;

    assert_eq!(state["session"]["status"], "active");
    assert_eq!(state["session"]["specialist"]["id"], sam.me().as_str());
    let assigned = visitor.recv_type("session.assigned").await;
    assert_eq!(assigned["specialist"]["id"], sam.me().as_str());
    sam.recv_where("an empty queue snapshot", Duration::from_secs(3), |f| {
        f["type"] == "queue.snapshot" && f.get("ref").is_none() && f["waiting"] == json!([])
    })
    .await;
}

#[actix_web::test]
async fn the_wait_estimate_is_null_while_nobody_who_fits_is_online() {
    let app = TestApp::spawn().await;
    let (mut alone, _) = waiting_visitor(&app, "Vera", json!({})).await;
    let _sam = online_specialist(&app, "sam@example.com", json!({"languages": ["en"]})).await;
    let (mut german, _) = waiting_visitor(&app, "Greta", json!({"language": "de"})).await;

    let first = alone.recv_type("queue.update").await;
    let update = german.recv_type("queue.update").await;

    assert_eq!(first["position"], 1);
    assert_eq!(first["specialists_online"], 0);
    assert!(first["estimated_wait_secs"].is_null(), "{first}");
    assert!(update["estimated_wait_secs"].is_null(), "{update}");
}

#[actix_web::test]
async fn queue_positions_update_live() {
    let app = TestApp::spawn().await;
    let (mut first, first_session) = waiting_visitor(&app, "Ann", json!({})).await;
    let (mut second, second_session) = waiting_visitor(&app, "Bob", json!({})).await;
    assert_eq!(first.recv_type("queue.update").await["position"], 1);
    assert_eq!(second.recv_type("queue.update").await["position"], 2);

    let mut sam =
        online_specialist(&app, "sam@example.com", json!({"max_concurrent_chats": 1})).await;
    let state = sam.accept_next_offer().await;

    assert_eq!(state["session"]["id"], first_session["id"]);
    let update = second
        .recv_where("queue position 1", common::ws::RECV_TIMEOUT, |f| {
            f["type"] == "queue.update" && f["position"] == 1
        })
        .await;
    assert_eq!(update["session_id"], second_session["id"]);
}

#[actix_web::test]
async fn every_visitor_of_a_queue_longer_than_one_update_slice_hears_it_move() {
    let app = TestApp::spawn().await;
    let mut waiting = Vec::new();
    for i in 0..260 {
        waiting.push(waiting_visitor(&app, &format!("Visitor {i}"), json!({})).await);
    }
    let (last, last_session) = waiting.last_mut().unwrap();
    assert_eq!(last.recv_type("queue.update").await["position"], 260);

    let mut sam =
        online_specialist(&app, "sam@example.com", json!({"max_concurrent_chats": 1})).await;
    sam.accept_next_offer().await;

    let update = last
        .recv_where("queue position 259", common::ws::RECV_TIMEOUT, |f| {
            f["type"] == "queue.update" && f["position"] == 259
        })
        .await;
    assert_eq!(update["session_id"], last_session["id"]);
}

#[actix_web::test]
async fn auto_accept_assigns_without_an_offer() {
    let app = TestApp::spawn_with(&["--auto-accept", "true"]).await;
    let mut sam = online_specialist(&app, "sam@example.com", json!({})).await;

    let (mut visitor, session) = waiting_visitor(&app, "Vera", json!({})).await;

    let assigned = visitor.recv_type("session.assigned").await;
    assert_eq!(assigned["specialist"]["id"], sam.me().as_str());
    assert_eq!(
        sam.recv_type("session.assigned").await["session_id"],
        session["id"]
    );
    sam.expect_no("offer", 300).await;
    assert_eq!(session_column(&app, &session, "status"), "active");
}

#[actix_web::test]
async fn a_waiting_visitor_who_leaves_is_abandoned() {
    let app = TestApp::spawn_with(&["--abandon-after-secs", "1"]).await;
    let (leaver, left) = waiting_visitor(&app, "Lee", json!({})).await;
    let (_stayer, stays) = waiting_visitor(&app, "Stan", json!({})).await;

    leaver.disconnect().await;

    eventually("the session is abandoned", Duration::from_secs(10), || {
        (session_column(&app, &left, "status") == "abandoned").then_some(())
    })
    .await;
    assert_eq!(session_column(&app, &stays, "status"), "waiting");
}

#[actix_web::test]
async fn a_specialist_who_stays_away_hands_their_chats_back_to_the_queue() {
    let app = TestApp::spawn_with(&["--specialist-grace-secs", "1"]).await;
    let mut chat = Chat::open(&app).await;
    let before = highest_seq(&app, &chat.session_id);

    chat.specialist.disconnect().await;

    chat.visitor
        .recv_where("a system message", Duration::from_secs(10), |f| {
            is_system_message_after(f, before)
        })
        .await;
    let session = json!({"id": chat.session_id});
    eventually("the chat is waiting again", Duration::from_secs(5), || {
        (session_column(&app, &session, "status") == "waiting").then_some(())
    })
    .await;
    assert_eq!(session_column(&app, &session, "priority"), "high");
}
