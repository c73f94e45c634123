//! The specialist workspace (SPEC section 10): canned responses, tags, archiving and
//! per-conversation analytics, over the real HTTP API and real WebSocket connections.

mod common;

use common::process::query_i64;
use common::ws::{assert_error, Chat, WsClient};
use common::{encode_query, TestApp};
use serde_json::{json, Value};

/// Creates a canned response and returns it.
async fn canned(app: &TestApp, token: &str, body: Value) -> Value {
    let (status, created) = app.post("/api/v1/canned-responses", token, body).await;
    assert_eq!(status, 201, "create canned response: {created}");
    created["canned_response"].clone()
}

fn shortcuts(list: &Value) -> Vec<String> {
    list["canned_responses"]
        .as_array()
        .unwrap_or_else(|| panic!("a list of canned responses: {list}"))
        .iter()
        .map(|c| c["shortcut"].as_str().unwrap().to_owned())
        .collect()
}

fn path_of(response: &Value) -> String {
    format!(
        "/api/v1/canned-responses/{}",
        response["id"].as_str().unwrap()
    )
}

/// A conversation a bot handed over and a specialist (sam) accepted; the visitor is
/// connected.
struct HandedOff {
    session_id: String,
    bot: String,
    visitor_token: String,
    visitor: WsClient,
    specialist: WsClient,
}

async fn handed_off_chat(app: &TestApp) -> HandedOff {
    let admin = app.admin_token().await;
    let (_, bot) = app.bot(&admin, "Intake bot").await;
    let (_, specialist_token) = app.specialist(&admin, "sam@example.com", json!({})).await;
    let mut specialist = WsClient::connect(app, &specialist_token).await;
    specialist.go_online().await;
    let (status, created) = app
        .post(
            "/api/v1/sessions",
            &bot,
            json!({
                "visitor": {"name": "Vera"},
                "transcript": [
                    {"from": "visitor", "body": "I want my money back"},
                    {"from": "bot", "body": "Which order is it about?"},
                    {"from": "visitor", "body": "Order 1234"},
                ],
            }),
        )
        .await;
    assert_eq!(status, 201, "handoff: {created}");
    let session_id = created["session"]["id"].as_str().unwrap().to_owned();
    specialist.accept_next_offer().await;
    let visitor_token = created["visitor_token"].as_str().unwrap().to_owned();
    let visitor = WsClient::connect(app, &visitor_token).await;
    HandedOff {
        session_id,
        bot,
        visitor_token,
        visitor,
        specialist,
    }
}

// Canned responses

#[actix_web::test]
async fn a_specialist_never_sees_another_specialists_own_canned_responses() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, ann) = app.specialist(&admin, "ann@example.com", json!({})).await;
    let (_, bob) = app.specialist(&admin, "bob@example.com", json!({})).await;
    canned(
        &app,
        &admin,
        json!({"shortcut": "hello", "title": "Greeting", "body": "Hello!", "shared": true}),
    )
    .await;
    let anns = canned(
        &app,
        &ann,
        json!({"shortcut": "ann-bye", "title": "Bye", "body": "Bye from Ann"}),
    )
    .await;
    assert_eq!(anns["shared"], false);
    let bobs = canned(
        &app,
        &bob,
        json!({"shortcut": "bob-bye", "title": "Bye", "body": "Bye from Bob"}),
    )
    .await;

    let (status, list) = app.get("/api/v1/canned-responses", &ann).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(shortcuts(&list), ["ann-bye", "hello"]);
    let (_, list) = app.get("/api/v1/canned-responses", &bob).await;
    assert_eq!(shortcuts(&list), ["bob-bye", "hello"]);

    let bobs_path = path_of(&bobs);
    assert_eq!(app.get(&bobs_path, &ann).await.0, 404);
    assert_eq!(
        app.call(
            "PATCH",
            &bobs_path,
            Some(&ann),
            Some(json!({"title": "Mine"}))
        )
        .await
        .0,
        404
    );
    assert_eq!(
        app.call("DELETE", &bobs_path, Some(&ann), None).await.0,
        404
    );
    let (status, own) = app.get(&path_of(&anns), &ann).await;
    assert_eq!(status, 200);
    assert_eq!(own["canned_response"]["body"], "Bye from Ann");
    let (_, still) = app.get(&bobs_path, &bob).await;
    assert_eq!(still["canned_response"]["title"], "Bye");
}

#[actix_web::test]
async fn visitors_and_bots_have_no_canned_responses() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, bot) = app.bot(&admin, "Intake bot").await;
    let (_, visitor) = app.visitor("Vera").await;
    for token in [&bot, &visitor] {
        let (status, body) = app.get("/api/v1/canned-responses", token).await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["error"]["code"], "forbidden");
        let (status, _) = app
            .post(
                "/api/v1/canned-responses",
                token,
                json!({"shortcut": "hi", "title": "Hi", "body": "Hi"}),
            )
            .await;
        assert_eq!(status, 403);
    }
}

#[actix_web::test]
async fn only_admins_create_change_or_delete_shared_canned_responses() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, ann) = app.specialist(&admin, "ann@example.com", json!({})).await;

    let (status, refused) = app
        .post(
            "/api/v1/canned-responses",
            &ann,
            json!({"shortcut": "policy", "title": "Policy", "body": "Our policy", "shared": true}),
        )
        .await;
    assert_eq!(status, 403, "{refused}");
    let shared = canned(
        &app,
        &admin,
        json!({"shortcut": "policy", "title": "Policy", "body": "Our policy", "shared": true}),
    )
    .await;
    assert_eq!(shared["shared"], true);
    let path = path_of(&shared);

    let (status, _) = app
        .call("PATCH", &path, Some(&ann), Some(json!({"body": "Changed"})))
        .await;
    assert_eq!(status, 403);
    assert_eq!(app.call("DELETE", &path, Some(&ann), None).await.0, 403);
    let (_, seen) = app.get(&path, &ann).await;
    assert_eq!(seen["canned_response"]["body"], "Our policy");

    let (status, changed) = app
        .call(
            "PATCH",
            &path,
            Some(&admin),
            Some(json!({"body": "Our new policy"})),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["canned_response"]["body"], "Our new policy");
    assert_eq!(changed["canned_response"]["title"], "Policy");

    // A specialist manages their own freely.
    let own = canned(
        &app,
        &ann,
        json!({"shortcut": "mine", "title": "Mine", "body": "Mine"}),
    )
    .await;
    let (status, changed) = app
        .call(
            "PATCH",
            &path_of(&own),
            Some(&ann),
            Some(json!({"shortcut": "mine-2"})),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["canned_response"]["shortcut"], "mine-2");
    assert_eq!(
        app.call("DELETE", &path_of(&own), Some(&ann), None).await.0,
        204
    );
    assert_eq!(app.get(&path_of(&own), &ann).await.0, 404);

    assert_eq!(app.call("DELETE", &path, Some(&admin), None).await.0, 204);
    let (_, list) = app.get("/api/v1/canned-responses", &ann).await;
    assert_eq!(shortcuts(&list), Vec::<String>::new());
}

#[actix_web::test]
async fn a_shortcut_is_unique_per_owner_and_the_shared_ones_count_as_one_owner() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, ann) = app.specialist(&admin, "ann@example.com", json!({})).await;
    let (_, bob) = app.specialist(&admin, "bob@example.com", json!({})).await;
    let hi = json!({"shortcut": "hi", "title": "Hi", "body": "Hi there"});
    let shared_hi = json!({"shortcut": "hi", "title": "Hi", "body": "Hi", "shared": true});

    canned(&app, &ann, hi.clone()).await;
    let (status, taken) = app.post("/api/v1/canned-responses", &ann, hi.clone()).await;
    assert_eq!(status, 409, "{taken}");
    assert_eq!(taken["error"]["code"], "conflict");
    canned(&app, &bob, hi.clone()).await;
    canned(&app, &admin, shared_hi.clone()).await;
    let (status, _) = app
        .post("/api/v1/canned-responses", &admin, shared_hi)
        .await;
    assert_eq!(status, 409);

    for bad in [
        json!({"shortcut": "Hi There", "title": "Hi", "body": "Hi"}),
        json!({"shortcut": "x".repeat(33), "title": "Hi", "body": "Hi"}),
        json!({"shortcut": "ok", "title": "", "body": "Hi"}),
        json!({"shortcut": "ok", "title": "Hi", "body": "x".repeat(4001)}),
        json!({"shortcut": "ok", "title": "Hi", "body": "   "}),
    ] {
        let (status, body) = app.post("/api/v1/canned-responses", &ann, bad).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"]["code"], "bad_request");
    }
}

#[actix_web::test]
async fn the_search_matches_a_shortcut_prefix_or_words_of_the_title_and_body() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, ann) = app.specialist(&admin, "ann@example.com", json!({})).await;
    canned(
        &app,
        &ann,
        json!({"shortcut": "refund", "title": "Refund started", "body": "Your money is on its way."}),
    )
    .await;
    canned(
        &app,
        &ann,
        json!({"shortcut": "track", "title": "Tracking", "body": "Your parcel left the warehouse."}),
    )
    .await;
    canned(
        &app,
        &admin,
        json!({"shortcut": "hours", "title": "Opening hours", "body": "We answer 9 to 5.",
               "shared": true}),
    )
    .await;

    for (q, expected) in [
        ("ref", vec!["refund"]),
        ("parcel", vec!["track"]),
        ("Opening", vec!["hours"]),
        ("your", vec!["refund", "track"]),
        ("money", vec!["refund"]),
        // LIKE's wildcards are matched literally.
        ("%", vec![]),
        ("_", vec![]),
        ("warehouse parcel", vec!["track"]),
        ("nothing-like-this", vec![]),
    ] {
        let (status, list) = app
            .get(
                &format!("/api/v1/canned-responses?q={}", encode_query(q)),
                &ann,
            )
            .await;
        assert_eq!(status, 200, "{list}");
        assert_eq!(shortcuts(&list), expected, "q={q}");
    }
}

#[actix_web::test]
async fn rendering_fills_in_the_visitor_the_specialist_and_the_session_number() {
    let app = TestApp::spawn().await;
    let chat = Chat::open(&app).await;
    let admin = app.admin_token().await;
    let greeting = canned(
        &app,
        &admin,
        json!({"shortcut": "greet", "title": "Greeting", "shared": true,
               "body": "Hi {{visitor.name}}, this is {{specialist.name}} about \
                        {{session.number}}. {{visitor.email}}"}),
    )
    .await;
    let number = query_i64(
        &mut app.db(),
        &format!(
            "SELECT number FROM chat_sessions WHERE id = '{}'",
            chat.session_id
        ),
    );
    let render = format!(
        "{}/render?session_id={}",
        path_of(&greeting),
        chat.session_id
    );

    let (status, rendered) = app.get(&render, &chat.specialist_token).await;
    assert_eq!(status, 200, "{rendered}");
    assert_eq!(
        rendered["body"],
        format!("Hi Vera, this is sam about CHAT-{number:08}. {{{{visitor.email}}}}")
    );
    let (status, _) = app.get(&render, &admin).await;
    assert_eq!(status, 200);

    let (_, stranger) = app.specialist(&admin, "stan@example.com", json!({})).await;
    assert_eq!(app.get(&render, &stranger).await.0, 403);
    assert_eq!(app.get(&render, &chat.visitor_token).await.0, 403);
    let unknown_session = format!(
        "{}/render?session_id={}",
        path_of(&greeting),
        uuid::Uuid::new_v4()
    );
    assert_eq!(app.get(&unknown_session, &admin).await.0, 404);
}

#[actix_web::test]
async fn rendering_for_a_session_nobody_took_yet_leaves_the_specialist_empty() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, visitor_token) = app.visitor("Vera").await;
    let mut visitor = WsClient::connect(&app, &visitor_token).await;
    let session = visitor.start_session(json!({})).await;
    let response = canned(
        &app,
        &admin,
        json!({"shortcut": "wait", "title": "Wait", "body": "[{{specialist.name}}] {{visitor.name}}"}),
    )
    .await;
    let (status, rendered) = app
        .get(
            &format!(
                "{}/render?session_id={}",
                path_of(&response),
                session["id"].as_str().unwrap()
            ),
            &admin,
        )
        .await;
    assert_eq!(status, 200, "{rendered}");
    assert_eq!(rendered["body"], "[] Vera");
}

// Tags

#[actix_web::test]
async fn tags_replace_the_old_ones_and_reach_every_specialist_connection_live() {
    let app = TestApp::spawn().await;
    let mut chat = Chat::open(&app).await;
    let mut second_tab = WsClient::connect(&app, &chat.specialist_token).await;
    let tags_path = format!("/api/v1/sessions/{}/tags", chat.session_id);

    let (status, set) = app
        .call(
            "PUT",
            &tags_path,
            Some(&chat.specialist_token),
            Some(json!({"tags": ["VIP", "billing", "vip"]})),
        )
        .await;
    assert_eq!(status, 200, "{set}");
    assert_eq!(set["tags"], json!(["billing", "vip"]));
    for tab in [&mut chat.specialist, &mut second_tab] {
        let event = tab.recv_type("session.tagged").await;
        assert_eq!(event["session_id"], chat.session_id.as_str());
        assert_eq!(event["tags"], json!(["billing", "vip"]));
        assert!(event.get("ref").is_none(), "{event}");
    }

    let reply = chat
        .specialist
        .expect_reply(
            json!({"type": "session.tag", "session_id": chat.session_id, "tags": ["refund"]}),
            "session.tagged",
        )
        .await;
    assert_eq!(reply["tags"], json!(["refund"]));
    let event = second_tab.recv_type("session.tagged").await;
    assert_eq!(event["tags"], json!(["refund"]));
    assert!(event.get("ref").is_none(), "{event}");
    chat.specialist.expect_no("session.tagged", 200).await;
    chat.visitor.expect_no("session.tagged", 200).await;

    let stored = query_i64(
        &mut app.db(),
        &format!(
            "SELECT count(*) FROM session_tags WHERE session_id = '{}'",
            chat.session_id
        ),
    );
    assert_eq!(stored, 1);
    let (_, shown) = app
        .get(
            &format!("/api/v1/sessions/{}", chat.session_id),
            &chat.specialist_token,
        )
        .await;
    assert_eq!(shown["session"]["tags"], json!(["refund"]));
    let state = chat
        .specialist
        .expect_reply(
            json!({"type": "session.resume", "session_id": chat.session_id, "after_seq": 0}),
            "session.state",
        )
        .await;
    assert_eq!(state["session"]["tags"], json!(["refund"]));
}

#[actix_web::test]
async fn invalid_tags_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let mut chat = Chat::open(&app).await;
    let tags_path = format!("/api/v1/sessions/{}/tags", chat.session_id);
    let token = Some(chat.specialist_token.as_str());
    let (status, _) = app
        .call("PUT", &tags_path, token, Some(json!({"tags": ["ok"]})))
        .await;
    assert_eq!(status, 200);

    let twenty_one: Vec<String> = (0..21).map(|i| format!("tag-{i}")).collect();
    for bad in [
        json!({"tags": ["two words"]}),
        json!({"tags": ["x".repeat(33)]}),
        json!({"tags": [""]}),
        json!({"tags": twenty_one}),
        json!({"tags": "vip"}),
    ] {
        let (status, body) = app.call("PUT", &tags_path, token, Some(bad)).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"]["code"], "bad_request");
    }
    let twenty: Vec<String> = (0..20).map(|i| format!("tag-{i:02}")).collect();
    let (status, set) = app
        .call("PUT", &tags_path, token, Some(json!({"tags": twenty})))
        .await;
    assert_eq!(status, 200, "{set}");
    assert_eq!(set["tags"].as_array().unwrap().len(), 20);

    let refused = chat
        .specialist
        .request(json!({"type": "session.tag", "session_id": chat.session_id, "tags": ["Not OK"]}))
        .await;
    assert_error(&refused, &["bad_request"]);
    let (_, shown) = app
        .get(
            &format!("/api/v1/sessions/{}", chat.session_id),
            &chat.specialist_token,
        )
        .await;
    assert_eq!(shown["session"]["tags"].as_array().unwrap().len(), 20);
}

#[actix_web::test]
async fn tags_are_never_shown_to_visitors_or_bots() {
    let app = TestApp::spawn().await;
    let HandedOff {
        session_id,
        bot,
        mut visitor,
        mut specialist,
        ..
    } = handed_off_chat(&app).await;
    let admin = app.admin_token().await;
    let (status, _) = app
        .call(
            "PUT",
            &format!("/api/v1/sessions/{session_id}/tags"),
            Some(&admin),
            Some(json!({"tags": ["vip"]})),
        )
        .await;
    assert_eq!(status, 200);
    specialist.recv_type("session.tagged").await;

    let session_path = format!("/api/v1/sessions/{session_id}");
    let (status, as_bot) = app.get(&session_path, &bot).await;
    assert_eq!(status, 200, "{as_bot}");
    assert!(as_bot["session"].get("tags").is_none(), "{as_bot}");
    let (_, as_admin) = app.get(&session_path, &admin).await;
    assert_eq!(as_admin["session"]["tags"], json!(["vip"]));

    let state = visitor
        .expect_reply(
            json!({"type": "session.resume", "session_id": session_id, "after_seq": 0}),
            "session.state",
        )
        .await;
    assert!(state["session"].get("tags").is_none(), "{state}");
    assert!(
        visitor.hello["sessions"][0].get("tags").is_none(),
        "{}",
        visitor.hello
    );
    visitor.expect_no("session.tagged", 200).await;

    // Neither may they set them.
    let refused = visitor
        .request(json!({"type": "session.tag", "session_id": session_id, "tags": ["x"]}))
        .await;
    assert_error(&refused, &["forbidden"]);
    let (status, _) = app
        .call(
            "PUT",
            &format!("/api/v1/sessions/{session_id}/tags"),
            Some(&bot),
            Some(json!({"tags": ["x"]})),
        )
        .await;
    assert_eq!(status, 403);

    // The specialist's reconnecting console gets them with the session.
    let reconnected = WsClient::connect(&app, &specialist_token(&app).await).await;
    assert_eq!(reconnected.hello["sessions"][0]["tags"], json!(["vip"]));
    let ended = specialist.end_session(&session_id).await;
    assert_eq!(ended["session"]["tags"], json!(["vip"]));
    let seen_by_visitor = visitor.recv_type("session.ended").await;
    assert!(seen_by_visitor["session"].get("tags").is_none());
}

async fn specialist_token(app: &TestApp) -> String {
    app.login("sam@example.com", "specialist-pw").await
}

#[actix_web::test]
async fn a_specialist_who_never_had_the_session_cannot_tag_it() {
    let app = TestApp::spawn().await;
    let chat = Chat::open(&app).await;
    let admin = app.admin_token().await;
    let (_, stranger) = app.specialist(&admin, "stan@example.com", json!({})).await;
    let (status, body) = app
        .call(
            "PUT",
            &format!("/api/v1/sessions/{}/tags", chat.session_id),
            Some(&stranger),
            Some(json!({"tags": ["mine"]})),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, _) = app
        .call(
            "PUT",
            &format!("/api/v1/sessions/{}/tags", uuid::Uuid::new_v4()),
            Some(&admin),
            Some(json!({"tags": ["mine"]})),
        )
        .await;
    assert_eq!(status, 404);
}

// Archive

#[actix_web::test]
async fn a_waiting_session_cannot_be_archived_but_an_abandoned_one_can() {
    let app = TestApp::spawn_with(&["--abandon-after-secs", "1"]).await;
    let admin = app.admin_token().await;
    let (_, token) = app.visitor("Wanda").await;
    let mut visitor = WsClient::connect(&app, &token).await;
    let session = visitor.start_session(json!({})).await;
    let archive = format!(
        "/api/v1/sessions/{}/archive",
        session["id"].as_str().unwrap()
    );

    let (status, refused) = app.post(&archive, &admin, json!({})).await;
    assert_eq!(status, 409, "{refused}");

    visitor.disconnect().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let archived = loop {
        let (status, body) = app.post(&archive, &admin, json!({})).await;
        if status == 200 {
            break body;
        }
        assert_eq!(status, 409, "{body}");
        assert!(std::time::Instant::now() < deadline, "never abandoned");
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(archived["session"]["status"], "abandoned");
    assert!(archived["session"]["archived_at"].is_string(), "{archived}");
}

#[actix_web::test]
async fn an_ended_session_can_be_archived_and_unarchived_but_an_active_one_cannot() {
    let app = TestApp::spawn().await;
    let mut chat = Chat::open(&app).await;
    let archive = format!("/api/v1/sessions/{}/archive", chat.session_id);
    let unarchive = format!("/api/v1/sessions/{}/unarchive", chat.session_id);
    let token = chat.specialist_token.clone();

    let (status, refused) = app.post(&archive, &token, json!({})).await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "conflict");

    chat.specialist.end_session(&chat.session_id).await;
    let (status, archived) = app.post(&archive, &token, json!({})).await;
    assert_eq!(status, 200, "{archived}");
    assert_eq!(archived["session"]["id"], chat.session_id.as_str());
    assert!(archived["session"]["archived_at"].is_string(), "{archived}");
    let stored = query_i64(
        &mut app.db(),
        &format!(
            "SELECT count(*) FROM chat_sessions WHERE id = '{}' AND archived_at IS NOT NULL",
            chat.session_id
        ),
    );
    assert_eq!(stored, 1);

    let (status, unarchived) = app.post(&unarchive, &token, json!({})).await;
    assert_eq!(status, 200, "{unarchived}");
    assert!(unarchived["session"].get("archived_at").is_none());
    let (_, shown) = app
        .get(&format!("/api/v1/sessions/{}", chat.session_id), &token)
        .await;
    assert!(shown["session"].get("archived_at").is_none(), "{shown}");

    let admin = app.admin_token().await;
    let (status, _) = app.post(&archive, &admin, json!({})).await;
    assert_eq!(status, 200);
    let (_, stranger) = app.specialist(&admin, "stan@example.com", json!({})).await;
    assert_eq!(app.post(&unarchive, &stranger, json!({})).await.0, 403);
    assert_eq!(
        app.post(&unarchive, &chat.visitor_token, json!({})).await.0,
        403
    );
    let missing = format!("/api/v1/sessions/{}/archive", uuid::Uuid::new_v4());
    assert_eq!(app.post(&missing, &admin, json!({})).await.0, 404);
}

// Analytics

fn analytics_path(session_id: &str) -> String {
    format!("/api/v1/sessions/{session_id}/analytics")
}

#[actix_web::test]
async fn analytics_count_a_scripted_conversation_exactly_and_time_it() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, bot) = app.bot(&admin, "Intake bot").await;
    let (status, created) = app
        .post(
            "/api/v1/sessions",
            &bot,
            json!({
                "visitor": {"name": "Vera"},
                "transcript": [
                    {"from": "visitor", "body": "I want my money back"},
                    {"from": "bot", "body": "Which order is it about?"},
                    {"from": "visitor", "body": "Order 1234"},
                ],
            }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let session_id = created["session"]["id"].as_str().unwrap().to_owned();

    // Waiting: only the handoff so far, and no times yet.
    let (status, waiting) = app.get(&analytics_path(&session_id), &admin).await;
    assert_eq!(status, 200, "{waiting}");
    assert_eq!(
        waiting["messages"],
        json!({"visitor": 2, "specialist": 0, "bot": 1, "system": 1, "note": 0})
    );
    for time in [
        "wait_secs",
        "first_response_secs",
        "avg_response_secs",
        "duration_secs",
        "rating",
    ] {
        assert!(waiting[time].is_null(), "{time}: {waiting}");
    }

    let (_, specialist_token) = app.specialist(&admin, "sam@example.com", json!({})).await;
    let mut specialist = WsClient::connect(&app, &specialist_token).await;
    specialist.go_online().await;
    specialist.accept_next_offer().await;
    let mut visitor = WsClient::connect(&app, created["visitor_token"].as_str().unwrap()).await;

    let (_, assigned) = app
        .get(&analytics_path(&session_id), &specialist_token)
        .await;
    assert!(assigned["wait_secs"].as_f64().unwrap() >= 0.0, "{assigned}");
    assert!(assigned["first_response_secs"].is_null(), "{assigned}");
    assert!(assigned["avg_response_secs"].is_null(), "{assigned}");

    specialist
        .say(&session_id, "Let me check that order.")
        .await;
    specialist
        .expect_reply(
            json!({"type": "note.add", "session_id": session_id, "body": "Order 1234 is late"}),
            "message.ack",
        )
        .await;
    visitor.say(&session_id, "Thanks").await;
    visitor.say(&session_id, "Any news?").await;
    specialist.say(&session_id, "Refund started.").await;
    specialist.end_session(&session_id).await;
    visitor
        .expect_reply(
            json!({"type": "session.rate", "session_id": session_id, "rating": 4}),
            "session.rated",
        )
        .await;

    let (status, done) = app
        .get(&analytics_path(&session_id), &specialist_token)
        .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(
        done["messages"],
        json!({"visitor": 4, "specialist": 2, "bot": 1, "system": 1, "note": 1})
    );
    let last_seq = query_i64(
        &mut app.db(),
        &format!("SELECT last_seq::bigint FROM chat_sessions WHERE id = '{session_id}'"),
    );
    assert_eq!(last_seq, 9, "the counts cover every message");
    let wait = done["wait_secs"].as_f64().unwrap();
    let first = done["first_response_secs"].as_f64().unwrap();
    let average = done["avg_response_secs"].as_f64().unwrap();
    let duration = done["duration_secs"].as_f64().unwrap();
    assert!(0.0 <= wait && wait <= first, "{done}");
    assert!(first <= duration && duration < 60.0, "{done}");
    assert!(0.0 < average && average <= duration, "{done}");
    assert_eq!(done["rating"], 4);

    // The average, exactly: with message n sent at n × 10 s, the visitor's messages 1 and
    // 3 are answered by the specialist's 5, and 7 and 8 by 9 (the note at 6 is no
    // answer): (40 + 20 + 20 + 10) / 4.
    common::process::execute(
        &mut app.db(),
        &format!(
            "UPDATE messages SET created_at = timestamptz '2026-01-01 10:00:00+00' \
             + seq * interval '10 seconds' WHERE session_id = '{session_id}'"
        ),
    );
    let (_, timed) = app
        .get(&analytics_path(&session_id), &specialist_token)
        .await;
    assert_eq!(timed["avg_response_secs"], 22.5, "{timed}");
}

#[actix_web::test]
async fn analytics_are_for_the_sessions_specialists_and_admins_only() {
    let app = TestApp::spawn().await;
    let chat = handed_off_chat(&app).await;
    let session_id = chat.session_id;
    let admin = app.admin_token().await;
    let (_, stranger) = app.specialist(&admin, "stan@example.com", json!({})).await;
    assert_eq!(app.get(&analytics_path(&session_id), &admin).await.0, 200);
    assert_eq!(
        app.get(&analytics_path(&session_id), &specialist_token(&app).await)
            .await
            .0,
        200
    );
    for token in [&chat.bot, &stranger, &chat.visitor_token] {
        let (status, body) = app.get(&analytics_path(&session_id), token).await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["error"]["code"], "forbidden");
    }
    assert_eq!(
        app.get(&analytics_path(&uuid::Uuid::new_v4().to_string()), &admin)
            .await
            .0,
        404
    );
}

#[actix_web::test]
async fn a_specialist_keeps_the_workspace_of_a_conversation_they_transferred() {
    let app = TestApp::spawn().await;
    let mut chat = Chat::open(&app).await;
    let mut ben = chat.transfer_to_new(&app, "ben@example.com").await;

    // Sam is no longer the session's specialist, but was.
    let tagged = chat
        .specialist
        .expect_reply(
            json!({"type": "session.tag", "session_id": chat.session_id, "tags": ["handed-on"]}),
            "session.tagged",
        )
        .await;
    assert_eq!(tagged["tags"], json!(["handed-on"]));
    let heard = ben.recv_type("session.tagged").await;
    assert_eq!(heard["tags"], json!(["handed-on"]));
    let (status, figures) = app
        .get(&analytics_path(&chat.session_id), &chat.specialist_token)
        .await;
    assert_eq!(status, 200, "{figures}");
    assert_eq!(
        figures["messages"]["system"], 1,
        "the transfer's system message"
    );

    ben.end_session(&chat.session_id).await;
    let (status, archived) = app
        .post(
            &format!("/api/v1/sessions/{}/archive", chat.session_id),
            &chat.specialist_token,
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{archived}");
}
