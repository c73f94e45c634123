//! Conversations and search (SPEC section 10): staff list conversations with filters and
//! stable paging, and find them by words of messages and notes, by the visitor's name or
//! e-mail and by number, against the real server and its background indexer.

mod common;

use std::time::{Duration, Instant};

use common::process::execute;
use common::ws::{Chat, WsClient};
use common::{encode_query, TestApp};
use serde_json::{json, Value};

/// The indexer may lag the conversation by at most this much.
const INDEX_LAG: Duration = Duration::from_secs(5);

struct Desk {
    app: TestApp,
    admin: String,
    bot: String,
}

impl Desk {
    async fn open() -> Desk {
        Self::open_with(&[]).await
    }

    async fn open_with(settings: &[&str]) -> Desk {
        let app = TestApp::spawn_with(settings).await;
        let admin = app.admin_token().await;
        let (_, bot) = app.bot(&admin, "Intake bot").await;
        Desk { app, admin, bot }
    }

    /// A bot hands over a conversation of one visitor message; returns the session.
    async fn handed_off(&self, visitor: Value, said: &str) -> Value {
        self.transcript(visitor, &[said]).await
    }

    /// A bot hands over the visitor's messages `said`, which take seqs 1, 2, …
    async fn transcript(&self, visitor: Value, said: &[&str]) -> Value {
        let transcript: Vec<Value> = said
            .iter()
            .map(|body| json!({"from": "visitor", "body": body}))
            .collect();
        let (status, created) = self
            .app
            .post(
                "/api/v1/sessions",
                &self.bot,
                json!({"visitor": visitor, "transcript": transcript}),
            )
            .await;
        assert_eq!(status, 201, "handoff: {created}");
        created["session"].clone()
    }

    /// A handed-over conversation of an anonymous visitor.
    async fn conversation(&self, said: &str) -> Value {
        self.handed_off(anonymous(), said).await
    }

    async fn list(&self, token: &str, query: &str) -> Value {
        list(&self.app, token, query).await
    }

    async fn set_archived(&self, session_id: &str, archived: bool) {
        let action = if archived { "archive" } else { "unarchive" };
        let path = format!("/api/v1/sessions/{session_id}/{action}");
        let (status, body) = self.app.post(&path, &self.admin, json!({})).await;
        assert_eq!(status, 200, "{path}: {body}");
    }

    async fn find(&self, token: &str, q: &str, session: &Value) -> Value {
        find(&self.app, token, q, session).await
    }
}

fn anonymous() -> Value {
    json!({"external_id": uuid::Uuid::new_v4().to_string()})
}

async fn list(app: &TestApp, token: &str, query: &str) -> Value {
    let (status, body) = app
        .get(&format!("/api/v1/conversations?{query}"), token)
        .await;
    assert_eq!(status, 200, "conversations?{query}: {body}");
    body
}

/// Searches until the result contains `session` (the indexer runs in the background),
/// failing after the lag budget; returns that hit.
async fn find(app: &TestApp, token: &str, q: &str, session: &Value) -> Value {
    let deadline = Instant::now() + INDEX_LAG;
    loop {
        let found = list(app, token, &format!("q={}", encode_query(q))).await;
        if let Some(hit) = hit_of(&found, session) {
            return hit;
        }
        assert!(
            Instant::now() < deadline,
            "{q:?} did not find {} within {INDEX_LAG:?}: {found}",
            session["id"]
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

fn hit_of(list: &Value, session: &Value) -> Option<Value> {
    list["sessions"]
        .as_array()
        .expect("a list of sessions")
        .iter()
        .find(|s| s["id"] == session["id"])
        .cloned()
}

fn ids(list: &Value) -> Vec<String> {
    list["sessions"]
        .as_array()
        .expect("a list of sessions")
        .iter()
        .map(|s| s["id"].as_str().expect("session id").to_owned())
        .collect()
}

fn id(session: &Value) -> String {
    session["id"].as_str().expect("session id").to_owned()
}

/// Waits until the indexer has caught up with every committed message.
async fn indexed(app: &TestApp) {
    let behind = "SELECT count(*) FROM chat_sessions s \
                  WHERE s.last_seq > coalesce((SELECT max(c.last_seq) FROM search_chunks c \
                                               WHERE c.session_id = s.id), 0)";
    common::process::eventually("the indexer caught up", INDEX_LAG, || {
        (common::process::query_i64(&mut app.db(), behind) == 0).then_some(())
    })
    .await;
}

#[actix_web::test]
async fn search_finds_a_word_from_a_message_with_a_plain_text_snippet() {
    let desk = Desk::open().await;
    let lost = desk
        .conversation("My <b>parcel</b> never arrived, the tracking page says it was lost")
        .await;
    let other = desk.conversation("How do I change my password?").await;

    let hit = desk.find(&desk.admin, "parcels", &lost).await;

    assert_eq!(hit["number"], lost["number"]);
    let matches = hit["matches"].as_array().expect("matches");
    assert_eq!(matches.len(), 1, "{hit}");
    assert_eq!(matches[0]["seq"], 1);
    let snippet = matches[0]["snippet"].as_str().unwrap();
    assert!(snippet.contains("parcel"), "{snippet}");
    assert!(snippet.contains("never arrived"), "{snippet}");
    assert!(!snippet.contains('<'), "no markup in {snippet}");
    let found = desk.list(&desk.admin, "q=parcel").await;
    assert_eq!(ids(&found), vec![id(&lost)]);
    assert!(hit_of(&found, &other).is_none());
}

#[actix_web::test]
async fn at_most_three_matches_are_shown_per_session() {
    let desk = Desk::open().await;
    let said: Vec<String> = (1..=5)
        .map(|n| format!("invoice number {n} is wrong"))
        .collect();
    let said: Vec<&str> = said.iter().map(String::as_str).collect();
    let session = desk.transcript(anonymous(), &said).await;

    let hit = desk.find(&desk.admin, "invoice", &session).await;

    let seqs: Vec<i64> = hit["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, vec![1, 2, 3]);
}

#[actix_web::test]
async fn matches_in_a_long_conversation_carry_their_own_seq() {
    let desk = Desk::open().await;
    // More messages than one index row holds, so the matches come from two of them.
    let said: Vec<String> = (1..=150)
        .map(|n| match n {
            5 | 130 | 140 => format!("message {n}: the sprocket rattles"),
            _ => format!("message {n}: all quiet"),
        })
        .collect();
    let said: Vec<&str> = said.iter().map(String::as_str).collect();
    let session = desk.transcript(anonymous(), &said).await;

    let hit = desk.find(&desk.admin, "sprocket", &session).await;

    let matches: Vec<(i64, String)> = hit["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["seq"].as_i64().unwrap(),
                m["snippet"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        matches.iter().map(|(seq, _)| *seq).collect::<Vec<_>>(),
        vec![5, 130, 140],
        "{hit}"
    );
    for (seq, snippet) in &matches {
        assert!(
            snippet.contains(&format!("message {seq}:")),
            "{seq}: {snippet}"
        );
    }
}

#[actix_web::test]
async fn a_conversation_matches_when_it_has_every_word_and_a_phrase_is_within_one_message() {
    let desk = Desk::open().await;
    let session = desk
        .transcript(
            anonymous(),
            &[
                "Hello, the parcel arrived damaged",
                "Could I get a refund to bob@example.com?",
                "The box was crushed",
            ],
        )
        .await;
    desk.find(&desk.admin, "crushed", &session).await;

    let seqs = |hit: Option<Value>| -> Option<Vec<i64>> {
        let matches = hit?["matches"].as_array()?.clone();
        Some(matches.iter().map(|m| m["seq"].as_i64().unwrap()).collect())
    };
    for (q, expected) in [
        ("parcels arriving", Some(vec![1])),
        ("\"parcel arrived\"", Some(vec![1])),
        ("bob@example.com", Some(vec![2])),
        // Words from different messages of the conversation.
        ("parcel refund", Some(vec![1, 2])),
        ("refund -socks", Some(vec![2])),
        ("damaged or crushed", Some(vec![1, 3])),
        ("box \"was crushed\"", Some(vec![3])),
        ("socks or \"box was\"", Some(vec![3])),
        // A phrase never runs from one message into the next.
        ("\"arrived damaged could\"", None),
        ("\"damaged could\"", None),
        ("refund -parcel", None),
        ("crushed -box", None),
        ("parcel socks", None),
        ("the was", None),
    ] {
        let found = desk
            .list(&desk.admin, &format!("q={}", encode_query(q)))
            .await;
        assert_eq!(seqs(hit_of(&found, &session)), expected, "q={q}: {found}");
    }
}

#[actix_web::test]
async fn a_word_in_hundreds_of_messages_finds_the_newest_sessions_first() {
    // Past a few hundred matching messages the search walks the newest sessions
    // instead of listing every match; the result must be the same.
    let desk = Desk::open().await;
    let transcript: Vec<Value> = (0..300)
        .map(|n| json!({"from": "visitor", "body": format!("umbrella question {n}")}))
        .collect();
    let (status, created) = desk
        .app
        .post(
            "/api/v1/sessions",
            &desk.bot,
            json!({"visitor": {"external_id": "crm-umbrellas"}, "transcript": transcript}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let older = created["session"].clone();
    let unrelated = desk.conversation("A question about socks").await;
    let newest = desk.conversation("Where is my umbrella?").await;
    desk.find(&desk.admin, "umbrella", &older).await;
    desk.find(&desk.admin, "umbrella", &newest).await;

    let found = desk.list(&desk.admin, "q=umbrellas").await;

    assert_eq!(ids(&found), vec![id(&newest), id(&older)]);
    assert!(hit_of(&found, &unrelated).is_none());
    assert_eq!(found["sessions"][1]["matches"].as_array().unwrap().len(), 3);
}

#[actix_web::test]
async fn staff_find_notes_and_visitors_and_bots_may_not_search() {
    let desk = Desk::open().await;
    let mut chat = Chat::open(&desk.app).await;
    let note = chat
        .specialist
        .expect_reply(
            json!({"type": "note.add", "session_id": chat.session_id,
                   "body": "Customer prefers a voucher to a refund"}),
            "message.ack",
        )
        .await["message"]
        .clone();
    let session = json!({"id": chat.session_id});

    let by_specialist = desk.find(&chat.specialist_token, "voucher", &session).await;
    let by_admin = desk.find(&desk.admin, "voucher", &session).await;

    for hit in [by_specialist, by_admin] {
        assert_eq!(hit["matches"][0]["seq"], note["seq"], "{hit}");
        assert!(hit["matches"][0]["snippet"]
            .as_str()
            .unwrap()
            .contains("voucher"));
    }
    for token in [&chat.visitor_token, &desk.bot] {
        let (status, body) = desk.app.get("/api/v1/conversations?q=voucher", token).await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["error"]["code"], "forbidden");
        let (status, _) = desk.app.get("/api/v1/conversations", token).await;
        assert_eq!(status, 403);
    }
}

#[actix_web::test]
async fn search_finds_a_visitor_by_email_and_a_session_by_its_number() {
    let desk = Desk::open().await;
    let jane = desk
        .handed_off(
            json!({"external_id": "crm-7", "name": "Jane Doe", "email": "jane.doe@example.com"}),
            "Hello there",
        )
        .await;
    let other = desk.conversation("Hello again").await;

    let by_email = desk.find(&desk.admin, "jane.doe@example.com", &jane).await;
    assert_eq!(by_email["matches"], json!([]), "no message matched");
    assert_eq!(by_email["visitor"]["email"], "jane.doe@example.com");
    let by_name = desk.find(&desk.admin, "Jane", &jane).await;
    assert_eq!(by_name["matches"], json!([]));

    let number = other["number"].as_str().unwrap();
    let digits = number.trim_start_matches("CHAT-").trim_start_matches('0');
    for q in [number, digits] {
        let found = desk
            .list(&desk.admin, &format!("q={}", encode_query(q)))
            .await;
        assert_eq!(ids(&found), vec![id(&other)], "q={q}");
        assert_eq!(found["sessions"][0]["matches"], json!([]));
    }
}

#[actix_web::test]
async fn a_specialist_never_finds_or_lists_a_session_they_were_never_assigned() {
    let desk = Desk::open().await;
    let mut chat = Chat::open(&desk.app).await;
    chat.visitor
        .say(&chat.session_id, "The blender arrived broken")
        .await;
    let unassigned = desk.conversation("My blender makes a noise").await;
    let (_, stranger) = desk
        .app
        .specialist(&desk.admin, "stranger@example.com", json!({}))
        .await;
    let mine = json!({"id": chat.session_id});

    desk.find(&desk.admin, "blender", &unassigned).await;
    desk.find(&chat.specialist_token, "blender", &mine).await;
    indexed(&desk.app).await;

    let searched = desk.list(&chat.specialist_token, "q=blender").await;
    assert_eq!(ids(&searched), vec![chat.session_id.clone()]);
    let listed = desk.list(&chat.specialist_token, "").await;
    assert_eq!(ids(&listed), vec![chat.session_id.clone()]);
    let as_stranger = desk.list(&stranger, "q=blender").await;
    assert_eq!(ids(&as_stranger), Vec::<String>::new());
    assert_eq!(ids(&desk.list(&stranger, "").await), Vec::<String>::new());
    let everything = desk.list(&desk.admin, "q=blender").await;
    assert_eq!(
        ids(&everything),
        vec![id(&unassigned), chat.session_id.clone()]
    );
}

#[actix_web::test]
async fn a_specialist_keeps_seeing_a_conversation_after_it_ended() {
    let desk = Desk::open().await;
    let mut chat = Chat::open(&desk.app).await;
    chat.visitor
        .say(&chat.session_id, "Thanks for the quick help")
        .await;
    chat.specialist.end_session(&chat.session_id).await;

    let listed = desk.list(&chat.specialist_token, "status=ended").await;

    assert_eq!(ids(&listed), vec![chat.session_id.clone()]);
    desk.find(
        &chat.specialist_token,
        "quick help",
        &json!({"id": chat.session_id}),
    )
    .await;
}

#[actix_web::test]
async fn paging_returns_every_session_exactly_once_while_new_sessions_arrive() {
    let desk = Desk::open().await;
    let mut existing = Vec::new();
    for n in 0..7 {
        existing.push(id(&desk.conversation(&format!("question {n}")).await));
    }
    existing.reverse();

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(cursor) => format!("limit=3&cursor={}", encode_query(cursor)),
            None => "limit=3".to_owned(),
        };
        let page = desk.list(&desk.admin, &query).await;
        seen.extend(ids(&page));
        desk.conversation("arrived while paging").await;
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }

    assert_eq!(seen, existing, "newest first, each exactly once");
    let everything = desk.list(&desk.admin, "limit=100").await;
    assert_eq!(ids(&everything).len(), 7 + 3);
}

#[actix_web::test]
async fn search_results_page_like_the_list() {
    let desk = Desk::open().await;
    let mut sessions = Vec::new();
    for _ in 0..5 {
        sessions.push(desk.conversation("The kettle leaks").await);
    }
    desk.find(&desk.admin, "kettle", &sessions[0]).await;
    indexed(&desk.app).await;

    let first = desk.list(&desk.admin, "q=kettle&limit=2").await;
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let second = desk
        .list(
            &desk.admin,
            &format!("q=kettle&limit=3&cursor={}", encode_query(cursor)),
        )
        .await;

    let mut seen = ids(&first);
    seen.extend(ids(&second));
    let mut expected: Vec<String> = sessions.iter().map(id).collect();
    expected.reverse();
    assert_eq!(seen, expected);
    assert_eq!(second["next_cursor"], Value::Null);
}

#[actix_web::test]
async fn filters_narrow_the_list_by_status_specialist_dates_tag_and_archive() {
    let desk = Desk::open().await;
    // The chat first: its specialist would otherwise be offered the bot's sessions.
    let chat = Chat::open(&desk.app).await;
    let waiting = desk.conversation("second").await;
    let archived = desk.conversation("third").await;
    let all = desk.list(&desk.admin, "").await;
    let created_at = |session: &Value| -> String {
        hit_of(&all, session).expect("listed")["created_at"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (status, ended) = desk
        .app
        .post(
            &format!("/api/v1/sessions/{}/end", id(&archived)),
            &desk.bot,
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "end: {ended}");
    desk.set_archived(&id(&archived), true).await;
    let (status, tagged) = desk
        .app
        .call(
            "PUT",
            &format!("/api/v1/sessions/{}/tags", chat.session_id),
            Some(&desk.admin),
            Some(json!({"tags": ["vip"]})),
        )
        .await;
    assert_eq!(status, 200, "tags: {tagged}");

    let by_status = desk.list(&desk.admin, "status=waiting").await;
    assert_eq!(ids(&by_status), vec![id(&waiting)]);
    let by_status = desk.list(&desk.admin, "status=active").await;
    assert_eq!(ids(&by_status), vec![chat.session_id.clone()]);
    let by_specialist = desk
        .list(
            &desk.admin,
            &format!("specialist_id={}", chat.specialist_id),
        )
        .await;
    assert_eq!(ids(&by_specialist), vec![chat.session_id.clone()]);
    for tag in ["vip", "VIP"] {
        let by_tag = desk.list(&desk.admin, &format!("tag={tag}")).await;
        assert_eq!(ids(&by_tag), vec![chat.session_id.clone()]);
    }
    let from = desk
        .list(
            &desk.admin,
            &format!("from={}", encode_query(&created_at(&waiting))),
        )
        .await;
    assert_eq!(ids(&from), vec![id(&waiting)], "from is inclusive");
    let to = desk
        .list(
            &desk.admin,
            &format!("to={}", encode_query(&created_at(&waiting))),
        )
        .await;
    assert_eq!(ids(&to), vec![chat.session_id.clone()], "to is exclusive");

    let unarchived = desk.list(&desk.admin, "").await;
    assert_eq!(
        ids(&unarchived),
        vec![id(&waiting), chat.session_id.clone()]
    );
    let only_archived = desk.list(&desk.admin, "archived=true").await;
    assert_eq!(ids(&only_archived), vec![id(&archived)]);
    let explicit = desk.list(&desk.admin, "archived=false").await;
    assert_eq!(ids(&explicit), ids(&unarchived));
    indexed(&desk.app).await;
    let searched = desk.list(&desk.admin, "q=third").await;
    assert_eq!(ids(&searched), Vec::<String>::new(), "archived is left out");
    let searched = desk.list(&desk.admin, "q=third&archived=true").await;
    assert_eq!(ids(&searched), vec![id(&archived)]);

    desk.set_archived(&id(&archived), false).await;
    let searched = desk.list(&desk.admin, "q=third").await;
    assert_eq!(
        ids(&searched),
        vec![id(&archived)],
        "unarchived is found again"
    );
    let listed = desk.list(&desk.admin, "").await;
    assert_eq!(
        ids(&listed),
        vec![id(&archived), id(&waiting), chat.session_id.clone()],
        "and listed again"
    );
}

#[actix_web::test]
async fn bad_parameters_are_refused_with_400() {
    let desk = Desk::open().await;
    let too_long = "word ".repeat(50);
    for query in [
        "limit=0".to_owned(),
        "limit=101".to_owned(),
        "limit=ten".to_owned(),
        "status=sleeping".to_owned(),
        "cursor=not-a-cursor".to_owned(),
        "from=yesterday".to_owned(),
        "to=2026-13-01T00:00:00Z".to_owned(),
        "archived=maybe".to_owned(),
        "specialist_id=not-a-uuid".to_owned(),
        "tag=not%20a%20tag".to_owned(),
        format!("q={}", encode_query(&too_long)),
        "q=%00".to_owned(),
    ] {
        let (status, body) = desk
            .app
            .get(&format!("/api/v1/conversations?{query}"), &desk.admin)
            .await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"]["code"], "bad_request", "{query}");
    }
    let (status, _) = desk
        .app
        .call("GET", "/api/v1/conversations", None, None)
        .await;
    assert_eq!(status, 401);
}

#[actix_web::test]
async fn a_message_sent_in_a_live_chat_is_found_within_five_seconds() {
    let desk = Desk::open().await;
    let mut chat = Chat::open(&desk.app).await;
    let mut specialist_tab = WsClient::connect(&desk.app, &chat.specialist_token).await;
    let sent = chat
        .visitor
        .say(&chat.session_id, "Is the aubergine recipe vegan?")
        .await;
    let session = json!({"id": chat.session_id});

    let hit = desk
        .find(&chat.specialist_token, "aubergine", &session)
        .await;

    assert_eq!(hit["matches"][0]["seq"], sent["seq"]);
    specialist_tab.recv_type("message.new").await;
}

#[actix_web::test]
async fn messages_committed_but_not_indexed_before_a_restart_are_indexed_after_it() {
    let desk = Desk::open().await;
    let session = desk.conversation("The toaster burnt my breakfast").await;
    desk.find(&desk.admin, "toaster", &session).await;
    // What a crash between commit and indexing leaves: an ended conversation whose
    // documents are missing, and which ended long before any sweep
    // the running indexer would still look at.
    let session_id = id(&session);
    execute(
        &mut desk.app.db(),
        &format!(
            "UPDATE chat_sessions SET status = 'ended', ended_at = now() - interval '1 day' \
             WHERE id = '{session_id}'"
        ),
    );
    execute(
        &mut desk.app.db(),
        &format!("DELETE FROM search_chunks WHERE session_id = '{session_id}'"),
    );
    assert_eq!(
        ids(&desk.list(&desk.admin, "q=toaster").await),
        Vec::<String>::new()
    );

    a_restarted_server_finds_only(&desk, "toaster", &session).await;
}

#[actix_web::test]
async fn with_indexing_off_messages_are_not_found_until_it_is_back_on() {
    let desk = Desk::open_with(&["--search-indexing", "false"]).await;
    let session = desk.conversation("The kettle whistles all night").await;
    // Two sweeps of a running indexer.
    actix_web::rt::time::sleep(2 * switchboard::search::TICK).await;
    assert_eq!(
        ids(&desk.list(&desk.admin, "q=kettle").await),
        Vec::<String>::new()
    );

    a_restarted_server_finds_only(&desk, "kettle", &session).await;
}

/// A server started again on the desk's database finds `session` by `word`, and only it.
async fn a_restarted_server_finds_only(desk: &Desk, word: &str, session: &Value) {
    let restarted = TestApp::spawn_on(&desk.app.database).await;
    find(&restarted, &desk.admin, word, session).await;
    let found = list(&restarted, &desk.admin, &format!("q={word}")).await;
    assert_eq!(ids(&found), vec![id(session)]);
}
