//! The bot HTTP API (SPEC section 5): handoff with transcript and idempotency, bot
//! messages delivered live, reading sessions, messages and transcripts, ending, listing,
//! the queue and statistics, and who may see what.

mod common;

use common::process::query_i64;
use common::ws::WsClient;
use common::TestApp;
use serde_json::{json, Value};

/// A server with an admin and a bot; most tests need nothing more to start.
struct BotApi {
    app: TestApp,
    admin: String,
    bot: String,
}

impl BotApi {
    async fn start() -> BotApi {
        let app = TestApp::spawn().await;
        let admin = app.admin_token().await;
        let (_, bot) = app.bot(&admin, "Intake bot").await;
        BotApi { app, admin, bot }
    }

    /// Hands a conversation over; returns the 201 body.
    async fn hand_off(&self, body: Value) -> Value {
        let (status, created) = self.app.post("/api/v1/sessions", &self.bot, body).await;
        assert_eq!(status, 201, "handoff: {created}");
        created
    }
}

fn handoff_with_transcript() -> Value {
    json!({
        "visitor": {"external_id": "crm-42", "name": "Vera", "email": "vera@example.com"},
        "intent": "refund",
        "priority": "high",
        "language": "en",
        "transcript": [
            {"from": "visitor", "body": "I want my money back"},
            {"from": "bot", "body": "Which order is it about?"},
            {"from": "visitor", "body": "Order 1234"},
        ],
        "metadata": {"order": 1234},
    })
}

/// Sends a request with raw headers and body; returns status, content type and body.
async fn raw(
    app: &TestApp,
    method: &str,
    path: &str,
    token: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> (u16, String, String) {
    let method = awc::http::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = app.client.request(method, app.url(path)).bearer_auth(token);
    for (name, value) in headers {
        request = request.insert_header((*name, *value));
    }
    let mut response = match body {
        Some(body) => {
            request
                .insert_header(("Content-Type", "application/json"))
                .send_body(body.to_owned())
                .await
        }
        None => request.send().await,
    }
    .expect("request reaches the server");
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = response
        .body()
        .limit(16 << 20)
        .await
        .expect("read the body");
    (
        response.status().as_u16(),
        content_type,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

fn bodies(messages: &Value) -> Vec<&str> {
    messages
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect()
}

fn seqs(messages: &Value) -> Vec<i64> {
    messages
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect()
}

#[actix_web::test]
async fn a_handoff_transcript_reaches_the_specialist_in_order() {
    let api = BotApi::start().await;
    let (_, specialist_token) = api
        .app
        .specialist(&api.admin, "sam@example.com", json!({}))
        .await;
    let mut specialist = WsClient::connect(&api.app, &specialist_token).await;
    specialist.go_online().await;

    let created = api.hand_off(handoff_with_transcript()).await;
    let session = &created["session"];
    assert_eq!(session["status"], "waiting");
    assert_eq!(session["priority"], "high");
    assert_eq!(session["intent"], "refund");
    assert_eq!(session["last_seq"], 4);
    assert!(created["ws_url"].as_str().unwrap().ends_with("/ws"));

    let offer = specialist.recv_type("offer").await;
    assert_eq!(offer["session"]["id"], session["id"]);
    assert_eq!(offer["session"]["metadata"]["order"], 1234);
    let transcript = &offer["session"]["transcript"];
    assert_eq!(seqs(transcript), vec![1, 2, 3, 4]);
    assert_eq!(
        bodies(transcript)[..3],
        [
            "I want my money back",
            "Which order is it about?",
            "Order 1234"
        ]
    );
    assert_eq!(transcript[0]["sender"]["type"], "visitor");
    assert_eq!(transcript[1]["sender"]["type"], "bot");
    assert_eq!(transcript[1]["sender"]["name"], "Intake bot");
    assert_eq!(transcript[3]["kind"], "system");

    let state = specialist.accept(&offer).await;
    assert_eq!(seqs(&state["messages"]), vec![1, 2, 3, 4]);
    assert_eq!(bodies(&state["messages"])[2], "Order 1234");
}

#[actix_web::test]
async fn the_visitor_token_from_a_handoff_connects_and_sees_the_session() {
    let api = BotApi::start().await;
    let created = api.hand_off(handoff_with_transcript()).await;
    let token = created["visitor_token"].as_str().unwrap();

    let visitor = WsClient::connect(&api.app, token).await;
    assert_eq!(visitor.hello["role"], "visitor");
    assert_eq!(visitor.me(), created["visitor"]["id"].as_str().unwrap());
    let sessions = visitor.hello["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["id"], created["session"]["id"]);
}

#[actix_web::test]
async fn a_known_external_id_reuses_the_visitor() {
    let api = BotApi::start().await;
    let first = api.hand_off(handoff_with_transcript()).await;
    let session_id = first["session"]["id"].as_str().unwrap();
    let (status, _) = api
        .app
        .post(
            &format!("/api/v1/sessions/{session_id}/end"),
            &api.bot,
            json!({}),
        )
        .await;
    assert_eq!(status, 200);

    let second = api
        .hand_off(json!({"visitor": {"external_id": "crm-42", "phone": "+1 555 0100"}}))
        .await;
    assert_eq!(second["visitor"]["id"], first["visitor"]["id"]);
    assert_ne!(second["session"]["id"], first["session"]["id"]);
    assert_eq!(second["session"]["visitor"]["name"], "Vera", "details kept");
    assert_eq!(
        query_i64(&mut api.app.db(), "SELECT count(*) FROM visitors"),
        1
    );
}

#[actix_web::test]
async fn a_visitor_with_an_open_session_cannot_be_handed_off_twice() {
    let api = BotApi::start().await;
    api.hand_off(handoff_with_transcript()).await;
    let (status, body) = api
        .app
        .post(
            "/api/v1/sessions",
            &api.bot,
            json!({"visitor": {"external_id": "crm-42"}}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "conflict");
}

#[actix_web::test]
async fn an_idempotency_key_retry_returns_the_same_session_and_creates_nothing() {
    let api = BotApi::start().await;
    let body = handoff_with_transcript().to_string();
    let key = [("Idempotency-Key", "handoff-7f3a")];
    let (status, _, first) = raw(
        &api.app,
        "POST",
        "/api/v1/sessions",
        &api.bot,
        &key,
        Some(&body),
    )
    .await;
    assert_eq!(status, 201, "{first}");
    let counts = |app: &TestApp| {
        let mut db = app.db();
        [
            query_i64(&mut db, "SELECT count(*) FROM chat_sessions"),
            query_i64(&mut db, "SELECT count(*) FROM visitors"),
            query_i64(&mut db, "SELECT count(*) FROM messages"),
            query_i64(&mut db, "SELECT count(*) FROM session_events"),
        ]
    };
    let before = counts(&api.app);

    for _ in 0..2 {
        let (status, _, retry) = raw(
            &api.app,
            "POST",
            "/api/v1/sessions",
            &api.bot,
            &key,
            Some(&body),
        )
        .await;
        assert_eq!(status, 201, "{retry}");
        let (first, retry): (Value, Value) = (
            serde_json::from_str(&first).unwrap(),
            serde_json::from_str(&retry).unwrap(),
        );
        assert_eq!(retry["session"]["id"], first["session"]["id"]);
        assert_eq!(retry["visitor"]["id"], first["visitor"]["id"]);
    }
    assert_eq!(counts(&api.app), before);

    // Another bot's identical key is its own.
    let (_, other_bot) = api.app.bot(&api.admin, "Other bot").await;
    let other = json!({"visitor": {"name": "Olga"}}).to_string();
    let (status, _, _) = raw(
        &api.app,
        "POST",
        "/api/v1/sessions",
        &other_bot,
        &key,
        Some(&other),
    )
    .await;
    assert_eq!(status, 201);
}

#[actix_web::test]
async fn a_bot_message_reaches_the_connected_visitor_live() {
    let api = BotApi::start().await;
    let created = api.hand_off(json!({"visitor": {"name": "Vera"}})).await;
    let session_id = created["session"]["id"].as_str().unwrap();
    let mut visitor = WsClient::connect(&api.app, created["visitor_token"].as_str().unwrap()).await;

    let (status, sent) = api
        .app
        .post(
            &format!("/api/v1/sessions/{session_id}/messages"),
            &api.bot,
            json!({"body": "A specialist will be with you shortly", "client_msg_id": "b-1"}),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    assert_eq!(sent["message"]["seq"], 2);
    assert_eq!(sent["message"]["sender"]["type"], "bot");

    let live = visitor.recv_type("message.new").await;
    assert_eq!(live["message"]["id"], sent["message"]["id"]);
    assert_eq!(
        live["message"]["body"],
        "A specialist will be with you shortly"
    );
    assert_eq!(live["message"]["sender"]["name"], "Intake bot");

    let (status, _) = api
        .app
        .post(
            &format!("/api/v1/sessions/{session_id}/messages"),
            &api.bot,
            json!({"body": "nul \u{0} byte"}),
        )
        .await;
    assert_eq!(status, 400);

    // A retry with the same client_msg_id is the same message.
    let (status, again) = api
        .app
        .post(
            &format!("/api/v1/sessions/{session_id}/messages"),
            &api.bot,
            json!({"body": "A specialist will be with you shortly", "client_msg_id": "b-1"}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(again["message"]["id"], sent["message"]["id"]);
    visitor.expect_no("message.new", 300).await;
}

#[actix_web::test]
async fn messages_are_paged_after_a_seq_and_notes_stay_with_staff() {
    let api = BotApi::start().await;
    let (_, specialist_token) = api
        .app
        .specialist(&api.admin, "sam@example.com", json!({}))
        .await;
    let mut specialist = WsClient::connect(&api.app, &specialist_token).await;
    specialist.go_online().await;
    let created = api.hand_off(handoff_with_transcript()).await;
    let session_id = created["session"]["id"].as_str().unwrap().to_owned();
    specialist.accept_next_offer().await;
    specialist
        .expect_reply(
            json!({"type": "note.add", "session_id": session_id, "body": "VIP customer"}),
            "message.ack",
        )
        .await;
    specialist.say(&session_id, "Hello Vera").await;

    let path = format!("/api/v1/sessions/{session_id}/messages");
    let (status, page) = api
        .app
        .get(&format!("{path}?after_seq=1&limit=2"), &api.bot)
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(seqs(&page["messages"]), vec![2, 3]);
    assert_eq!(page["has_more"], true);
    let (_, rest) = api.app.get(&format!("{path}?after_seq=3"), &api.bot).await;
    assert_eq!(
        seqs(&rest["messages"]),
        vec![4, 6],
        "the note (5) is not for bots"
    );
    assert_eq!(rest["has_more"], false);

    let (_, staff) = api
        .app
        .get(&format!("{path}?after_seq=3"), &api.admin)
        .await;
    assert_eq!(seqs(&staff["messages"]), vec![4, 5, 6]);
    assert_eq!(staff["messages"][1]["kind"], "note");

    let transcript = format!("/api/v1/sessions/{session_id}/transcript");
    let (_, for_bot) = api.app.get(&transcript, &api.bot).await;
    assert_eq!(seqs(&for_bot["messages"]), vec![1, 2, 3, 4, 6]);
    let (_, for_admin) = api.app.get(&transcript, &api.admin).await;
    assert_eq!(seqs(&for_admin["messages"]), vec![1, 2, 3, 4, 5, 6]);

    let (status, bad) = api.app.get(&format!("{path}?limit=0"), &api.bot).await;
    assert_eq!(
        (status, bad["error"]["code"].as_str()),
        (400, Some("bad_request"))
    );
}

#[actix_web::test]
async fn the_transcript_comes_as_json_text_and_an_escaped_html_page() {
    let api = BotApi::start().await;
    let created = api
        .hand_off(json!({
            "visitor": {"name": "<b>Mallory</b>"},
            "transcript": [
                {"from": "visitor", "body": "<script>alert('pwned')</script>"},
                {"from": "bot", "body": "Fish & chips?"},
            ],
        }))
        .await;
    let path = format!(
        "/api/v1/sessions/{}/transcript",
        created["session"]["id"].as_str().unwrap()
    );

    let (status, json_type, json_body) = raw(&api.app, "GET", &path, &api.bot, &[], None).await;
    assert_eq!(status, 200);
    assert!(json_type.starts_with("application/json"));
    let transcript: Value = serde_json::from_str(&json_body).unwrap();
    assert_eq!(transcript["session"]["id"], created["session"]["id"]);
    assert_eq!(seqs(&transcript["messages"]), vec![1, 2, 3]);
    assert_eq!(
        transcript["messages"][0]["body"],
        "<script>alert('pwned')</script>"
    );

    let (status, text_type, text) = raw(
        &api.app,
        "GET",
        &format!("{path}?format=text"),
        &api.bot,
        &[],
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(text_type.starts_with("text/plain"));
    assert!(
        text.contains("<b>Mallory</b> (visitor): <script>alert('pwned')</script>"),
        "{text}"
    );
    assert!(text.contains("Intake bot (bot): Fish & chips?"), "{text}");

    let (status, html_type, html) = raw(
        &api.app,
        "GET",
        &format!("{path}?format=html"),
        &api.bot,
        &[],
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(html_type.starts_with("text/html"));
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(!html.contains("<script"), "content must be escaped: {html}");
    assert!(!html.contains("<b>Mallory"), "names must be escaped too");
    assert!(html.contains("&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;"));
    assert!(html.contains("Fish &amp; chips?"));
    assert!(
        !html.contains("src=") && !html.contains("href="),
        "self-contained"
    );

    let (status, _, error) = raw(
        &api.app,
        "GET",
        &format!("{path}?format=pdf"),
        &api.bot,
        &[],
        None,
    )
    .await;
    assert_eq!(status, 400, "{error}");
}

#[actix_web::test]
async fn a_bot_can_end_its_session_once() {
    let api = BotApi::start().await;
    let created = api.hand_off(json!({"visitor": {}})).await;
    let mut visitor = WsClient::connect(&api.app, created["visitor_token"].as_str().unwrap()).await;
    let path = format!(
        "/api/v1/sessions/{}/end",
        created["session"]["id"].as_str().unwrap()
    );

    let (status, ended) = api
        .app
        .post(&path, &api.bot, json!({"reason": "resolved by bot"}))
        .await;
    assert_eq!(status, 200, "{ended}");
    assert_eq!(ended["session"]["status"], "ended");
    assert_eq!(ended["session"]["end_reason"], "resolved by bot");
    let notice = visitor.recv_type("session.ended").await;
    assert_eq!(notice["ended_by"]["type"], "bot");

    let (status, again) = api.app.call("POST", &path, Some(&api.bot), None).await;
    assert_eq!(
        (status, again["error"]["code"].as_str()),
        (409, Some("conflict"))
    );
    let messages = path.replace("/end", "/messages");
    let (status, late) = api
        .app
        .post(&messages, &api.bot, json!({"body": "still there?"}))
        .await;
    assert_eq!(
        (status, late["error"]["code"].as_str()),
        (409, Some("conflict"))
    );
}

#[actix_web::test]
async fn one_bot_gets_403_on_every_call_about_another_bots_session() {
    let api = BotApi::start().await;
    let created = api.hand_off(handoff_with_transcript()).await;
    let id = created["session"]["id"].as_str().unwrap();
    let (_, intruder) = api.app.bot(&api.admin, "Intruder").await;

    let calls = [
        ("GET", format!("/api/v1/sessions/{id}"), None),
        ("GET", format!("/api/v1/sessions/{id}/messages"), None),
        ("GET", format!("/api/v1/sessions/{id}/transcript"), None),
        (
            "GET",
            format!("/api/v1/sessions/{id}/transcript?format=html"),
            None,
        ),
        (
            "POST",
            format!("/api/v1/sessions/{id}/messages"),
            Some(json!({"body": "hi"})),
        ),
        (
            "POST",
            format!("/api/v1/sessions/{id}/end"),
            Some(json!({})),
        ),
    ];
    for (method, path, body) in calls {
        let (status, error) = api.app.call(method, &path, Some(&intruder), body).await;
        assert_eq!(status, 403, "{method} {path}: {error}");
        assert_eq!(error["error"]["code"], "forbidden");
    }
    let (_, listed) = api.app.get("/api/v1/sessions", &intruder).await;
    assert_eq!(listed["sessions"], json!([]));
    let (_, queue) = api.app.get("/api/v1/queue", &intruder).await;
    assert_eq!(queue["length"], 1);
    assert_eq!(queue["waiting"], json!([]), "another bot's entry is hidden");

    // Nothing happened to the session.
    let (_, session) = api
        .app
        .get(&format!("/api/v1/sessions/{id}"), &api.bot)
        .await;
    assert_eq!(session["session"]["status"], "waiting");
    assert_eq!(session["session"]["last_seq"], 4);
    // An unknown session is 404, for everyone.
    let unknown = uuid::Uuid::now_v7();
    let (status, _) = api
        .app
        .get(&format!("/api/v1/sessions/{unknown}"), &intruder)
        .await;
    assert_eq!(status, 404);
}

#[actix_web::test]
async fn invalid_handoff_bodies_get_400_bad_request() {
    let api = BotApi::start().await;
    let invalid = [
        r#"{"visitor": {}, "priority": "whenever"}"#,
        r#"{"visitor": {}, "transcript": "hello"}"#,
        r#"{"visitor": {}, "transcript": [{"from": "specialist", "body": "hi"}]}"#,
        r#"{"visitor": {}, "transcript": [{"from": "visitor", "body": "   "}]}"#,
        r#"{"visitor": {}, "metadata": [1, 2]}"#,
        r#"{"visitor": {}, "metadata": {"note": "nul \u0000 inside"}}"#,
        r#"{"visitor": {}, "transcript": [{"from": "visitor", "body": "nul \u0000"}]}"#,
        r#"{"visitor": {}, "transcript": [{"from": "bot", "body": "hi", "at": "0099-01-01T00:00:00Z"}]}"#,
        r#"{"visitor": {"email": "not an address"}}"#,
        r#"{"visitor": {}, "skills": ["no spaces allowed"]}"#,
        r#"{"priority": "high"}"#,
        r#"{"visitor": {}, "transcript": [{"from": "visitor", "body": "hi"}"#,
        "not json at all",
    ];
    for body in invalid {
        let (status, content_type, error) = raw(
            &api.app,
            "POST",
            "/api/v1/sessions",
            &api.bot,
            &[],
            Some(body),
        )
        .await;
        assert_eq!(status, 400, "{body} → {error}");
        assert!(content_type.starts_with("application/json"));
        let error: Value = serde_json::from_str(&error).unwrap();
        assert_eq!(error["error"]["code"], "bad_request", "{body}");
    }
    let bad_key = [("Idempotency-Key", "")];
    let (status, _, _) = raw(
        &api.app,
        "POST",
        "/api/v1/sessions",
        &api.bot,
        &bad_key,
        Some(r#"{"visitor": {}}"#),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        query_i64(&mut api.app.db(), "SELECT count(*) FROM chat_sessions"),
        0
    );
}

#[actix_web::test]
async fn only_bots_hand_off_and_visitors_see_no_queue() {
    let api = BotApi::start().await;
    let (_, visitor) = api.app.visitor("Vera").await;
    for token in [&api.admin, &visitor] {
        let (status, _) = api
            .app
            .post("/api/v1/sessions", token, json!({"visitor": {}}))
            .await;
        assert_eq!(status, 403);
    }
    for path in ["/api/v1/queue", "/api/v1/stats"] {
        let (status, _) = api.app.get(path, &visitor).await;
        assert_eq!(status, 403, "{path}");
    }
    let (status, _) = api.app.call("GET", "/api/v1/sessions", None, None).await;
    assert_eq!(status, 401);
}

#[actix_web::test]
async fn list_paging_returns_every_session_exactly_once_while_new_ones_arrive() {
    let api = BotApi::start().await;
    let mut expected = Vec::new();
    for i in 0..7 {
        let created = api
            .hand_off(json!({"visitor": {"name": format!("v{i}")}}))
            .await;
        expected.push(created["session"]["id"].as_str().unwrap().to_owned());
    }
    let (_, other_bot) = api.app.bot(&api.admin, "Other bot").await;
    let (status, _) = api
        .app
        .post("/api/v1/sessions", &other_bot, json!({"visitor": {}}))
        .await;
    assert_eq!(status, 201);

    let mut seen: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/api/v1/sessions?limit=3&cursor={cursor}"),
            None => "/api/v1/sessions?limit=3".to_owned(),
        };
        let (status, page) = api.app.get(&path, &api.bot).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(
            page["sessions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["id"].as_str().unwrap().to_owned()),
        );
        pages += 1;
        // New sessions arrive between pages.
        api.hand_off(json!({"visitor": {"name": format!("late{pages}")}}))
            .await;
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    expected.reverse();
    assert_eq!(
        seen, expected,
        "newest first, each once, none of another bot's"
    );

    let (_, all) = api.app.get("/api/v1/sessions?limit=100", &api.admin).await;
    assert_eq!(all["sessions"].as_array().unwrap().len(), 7 + 1 + pages);
    assert_eq!(all["next_cursor"], Value::Null, "no empty last page");
    let (_, waiting) = api
        .app
        .get("/api/v1/sessions?status=ended", &api.admin)
        .await;
    assert_eq!(waiting["sessions"], json!([]));
    for bad in [
        "?limit=0",
        "?limit=101",
        "?cursor=garbage",
        "?status=sleeping",
    ] {
        let (status, _) = api
            .app
            .get(&format!("/api/v1/sessions{bad}"), &api.bot)
            .await;
        assert_eq!(status, 400, "{bad}");
    }
}

#[actix_web::test]
async fn the_queue_and_stats_reflect_live_sessions() {
    let api = BotApi::start().await;
    let (_, specialist_token) = api
        .app
        .specialist(&api.admin, "sam@example.com", json!({}))
        .await;
    let first = api
        .hand_off(json!({"visitor": {"name": "A"}, "priority": "low"}))
        .await;
    let second = api
        .hand_off(json!({"visitor": {"name": "B"}, "priority": "urgent"}))
        .await;

    let (status, queue) = api.app.get("/api/v1/queue", &api.bot).await;
    assert_eq!(status, 200, "{queue}");
    assert_eq!(queue["length"], 2);
    assert_eq!(queue["specialists_online"], 0);
    assert_eq!(queue["estimated_wait_secs"], Value::Null);
    let order: Vec<&Value> = queue["waiting"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["session"]["id"])
        .collect();
    assert_eq!(
        order,
        vec![&second["session"]["id"], &first["session"]["id"]],
        "urgent first"
    );
    assert_eq!(queue["waiting"][0]["position"], 1);
    assert!(
        queue["waiting"][0]["session"].get("metadata").is_none(),
        "bots see no staff fields"
    );

    let mut specialist = WsClient::connect(&api.app, &specialist_token).await;
    specialist.go_online().await;
    let state = specialist.accept_next_offer().await;
    let session_id = state["session"]["id"].as_str().unwrap().to_owned();
    specialist.say(&session_id, "Hello").await;

    let (status, stats) = api.app.get("/api/v1/stats", &api.admin).await;
    assert_eq!(status, 200, "{stats}");
    assert_eq!(stats["waiting"], 1);
    assert_eq!(stats["active"], 1);
    assert_eq!(
        stats["specialists"],
        json!({"online": 1, "away": 0, "offline": 1})
    );
    assert_eq!(stats["last_hour"]["sessions"], 2);
    assert!(stats["last_hour"]["avg_wait_secs"].as_f64().unwrap() >= 0.0);
    assert!(
        stats["last_hour"]["avg_first_response_secs"]
            .as_f64()
            .unwrap()
            >= 0.0
    );
    assert_eq!(stats["last_hour"]["avg_duration_secs"], Value::Null);

    specialist.end_session(&session_id).await;
    // Both sessions are offered at once (capacity 3); whichever was accepted is rated.
    let accepted = if session_id == second["session"]["id"].as_str().unwrap() {
        &second
    } else {
        &first
    };
    let mut visitor =
        WsClient::connect(&api.app, accepted["visitor_token"].as_str().unwrap()).await;
    visitor
        .expect_reply(
            json!({"type": "session.rate", "session_id": session_id, "rating": 4}),
            "session.rated",
        )
        .await;
    let (_, stats) = api.app.get("/api/v1/stats", &api.bot).await;
    assert_eq!(stats["active"], 0);
    assert_eq!(stats["last_hour"]["avg_rating"], 4.0);
    assert!(stats["last_hour"]["avg_duration_secs"].as_f64().unwrap() >= 0.0);
}

#[actix_web::test]
async fn metadata_numbers_near_the_limit_of_a_double_come_back_unchanged() {
    let api = BotApi::start().await;
    // Postgres prints such a number in jsonb as a 309-digit integer; reading it back
    // needs exact float parsing (serde_json's `float_roundtrip`).
    let metadata = json!({"largest": 1.7976931348623155e308, "tiny": 8.345367399168785e-294});
    let created = api
        .hand_off(json!({"visitor": {"name": "Vera"}, "metadata": metadata}))
        .await;
    let (status, shown) = api
        .app
        .get(
            &format!(
                "/api/v1/sessions/{}",
                created["session"]["id"].as_str().unwrap()
            ),
            &api.admin,
        )
        .await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["session"]["metadata"], metadata);
}
