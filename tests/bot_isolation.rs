//! Bots are isolated from each other (SPEC section 12): a visitor's `external_id` is
//! scoped to the bot that gave it, so one bot can never obtain a token for, read, or
//! change another bot's visitor or session, and no error names a session the caller may
//! not see. The last test upgrades a database written before the scoping existed.

mod common;

use common::process::{execute, query_i64, query_text};
use common::ws::{assert_error, WsClient};
use common::TestApp;
use diesel::{Connection, PgConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use serde_json::{json, Value};
use switchboard::auth::TokenKeys;
use switchboard::domain::Role;
use uuid::Uuid;

/// A server with an admin and two bots that know nothing of each other.
struct TwoBots {
    app: TestApp,
    admin: String,
    first: String,
    second: String,
}

impl TwoBots {
    async fn start() -> TwoBots {
        let app = TestApp::spawn().await;
        let admin = app.admin_token().await;
        let (_, first) = app.bot(&admin, "First bot").await;
        let (_, second) = app.bot(&admin, "Second bot").await;
        TwoBots {
            app,
            admin,
            first,
            second,
        }
    }
}

/// Hands a conversation over as `bot`; returns the 201 body.
async fn hand_off(app: &TestApp, bot: &str, body: Value) -> Value {
    let (status, created) = app.post("/api/v1/sessions", bot, body).await;
    assert_eq!(status, 201, "handoff: {created}");
    created
}

async fn end(app: &TestApp, bot: &str, session_id: &str) {
    let path = format!("/api/v1/sessions/{session_id}/end");
    let (status, body) = app.post(&path, bot, json!({})).await;
    assert_eq!(status, 200, "end: {body}");
}

fn text<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer} in {value}"))
}

fn vera(external_id: &str) -> Value {
    json!({
        "visitor": {"external_id": external_id, "name": "Vera", "email": "vera@example.com"},
        "transcript": [{"from": "visitor", "body": "My order 1234 never arrived"}],
    })
}

#[actix_web::test]
async fn a_second_bot_handing_off_the_same_external_id_gets_a_visitor_of_its_own() {
    let bots = TwoBots::start().await;
    let first = hand_off(&bots.app, &bots.first, vera("crm-42")).await;
    end(&bots.app, &bots.first, text(&first, "/session/id")).await;

    let second = hand_off(
        &bots.app,
        &bots.second,
        json!({"visitor": {"external_id": "crm-42", "name": "Mallory"}}),
    )
    .await;

    assert_ne!(second["visitor"]["id"], first["visitor"]["id"]);
    assert_ne!(second["visitor_token"], first["visitor_token"]);
    let (status, shown) = bots
        .app
        .get(
            &format!("/api/v1/sessions/{}", text(&first, "/session/id")),
            &bots.admin,
        )
        .await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(
        shown["session"]["visitor"]["name"], "Vera",
        "the second bot changed nothing of the first bot's visitor"
    );
    assert_eq!(
        query_i64(&mut bots.app.db(), "SELECT count(*) FROM visitors"),
        2
    );
}

#[actix_web::test]
async fn a_visitor_token_from_one_bot_cannot_read_or_list_another_bots_sessions() {
    let bots = TwoBots::start().await;
    let first = hand_off(&bots.app, &bots.first, vera("crm-42")).await;
    let first_session = text(&first, "/session/id");
    end(&bots.app, &bots.first, first_session).await;
    let second = hand_off(
        &bots.app,
        &bots.second,
        json!({"visitor": {"external_id": "crm-42"}}),
    )
    .await;
    let intruder = text(&second, "/visitor_token");

    for path in [
        format!("/api/v1/sessions/{first_session}"),
        format!("/api/v1/sessions/{first_session}/messages"),
        format!("/api/v1/sessions/{first_session}/transcript"),
    ] {
        let (status, body) = bots.app.get(&path, intruder).await;
        assert!(
            status == 403 || status == 404,
            "{path} answered {status}: {body}"
        );
    }
    let (status, listed) = bots.app.get("/api/v1/sessions", intruder).await;
    assert_eq!(status, 200, "{listed}");
    let listed: Vec<&str> = listed["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .map(|session| text(session, "/id"))
        .collect();
    assert_eq!(listed, vec![text(&second, "/session/id")]);

    let mut visitor = WsClient::connect(&bots.app, intruder).await;
    let open: Vec<&Value> = visitor.hello["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .map(|session| &session["id"])
        .collect();
    assert_eq!(open, vec![&second["session"]["id"]]);
    let resumed = visitor
        .request(json!({"type": "session.resume", "session_id": first_session, "after_seq": 0}))
        .await;
    assert_error(&resumed, &["forbidden", "not_found"]);
    let history = visitor
        .request(json!({"type": "history", "session_id": first_session}))
        .await;
    assert_error(&history, &["forbidden", "not_found"]);
}

#[actix_web::test]
async fn the_same_bot_handing_off_an_external_id_again_gets_the_same_visitor() {
    let bots = TwoBots::start().await;
    let first = hand_off(&bots.app, &bots.first, vera("crm-42")).await;
    let other = hand_off(
        &bots.app,
        &bots.second,
        json!({"visitor": {"external_id": "crm-42"}}),
    )
    .await;
    end(&bots.app, &bots.first, text(&first, "/session/id")).await;

    let again = hand_off(
        &bots.app,
        &bots.first,
        json!({"visitor": {"external_id": "crm-42"}}),
    )
    .await;

    assert_eq!(again["visitor"]["id"], first["visitor"]["id"]);
    assert_ne!(again["visitor"]["id"], other["visitor"]["id"]);
    assert_eq!(again["session"]["visitor"]["name"], "Vera", "details kept");
    let visitor = WsClient::connect(&bots.app, text(&again, "/visitor_token")).await;
    assert_eq!(visitor.me(), text(&first, "/visitor/id"));
}

#[actix_web::test]
async fn a_conflict_over_an_open_session_does_not_name_the_session() {
    let bots = TwoBots::start().await;
    let first = hand_off(&bots.app, &bots.first, vera("crm-42")).await;

    let (status, body) = bots
        .app
        .post(
            "/api/v1/sessions",
            &bots.first,
            json!({"visitor": {"external_id": "crm-42"}}),
        )
        .await;

    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "conflict");
    assert!(
        !body.to_string().contains(text(&first, "/session/id")),
        "the error names the open session: {body}"
    );
}

#[actix_web::test]
async fn a_session_the_visitor_started_stays_unnamed_when_their_bot_hands_them_off_again() {
    let bots = TwoBots::start().await;
    let first = hand_off(&bots.app, &bots.first, vera("crm-7")).await;
    end(&bots.app, &bots.first, text(&first, "/session/id")).await;
    let mut visitor = WsClient::connect(&bots.app, text(&first, "/visitor_token")).await;
    let own = visitor.start_session(json!({"intent": "billing"})).await;
    let own_id = text(&own, "/id");

    let (status, body) = bots
        .app
        .post(
            "/api/v1/sessions",
            &bots.first,
            json!({"visitor": {"external_id": "crm-7"}}),
        )
        .await;

    assert_eq!(status, 409, "{body}");
    assert!(
        !body.to_string().contains(own_id),
        "the error names a session the bot may not see: {body}"
    );
    let (status, _) = bots
        .app
        .get(&format!("/api/v1/sessions/{own_id}"), &bots.first)
        .await;
    assert_eq!(status, 403, "the bot may not see the visitor's own session");
}

/// The migration that scopes `external_id` by bot; the backfill test stops just before it.
const BOT_SCOPED_VISITORS: &str = "2026-12-02-000010_bot_scoped_visitors";
const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Applies every migration before the one named `name`, as a server of that time had.
fn migrate_to_before(conn: &mut PgConnection, name: &str) {
    let pending = conn
        .pending_migrations(MIGRATIONS)
        .expect("list the migrations");
    let stop = pending
        .iter()
        .position(|migration| migration.name().to_string() == name)
        .unwrap_or_else(|| panic!("no migration {name}"));
    for migration in &pending[..stop] {
        conn.run_migration(migration.as_ref())
            .expect("apply an older migration");
    }
}

fn bot_token(bot: Uuid) -> String {
    TokenKeys::new(common::JWT_SECRET.as_bytes())
        .issue(bot, Role::Bot)
        .expect("sign a bot token")
}

#[actix_web::test]
async fn visitors_known_before_the_upgrade_stay_with_the_bot_that_first_handed_them_off() {
    let database = common::empty_database();
    let mut conn = PgConnection::establish(&common::database_url(&database))
        .expect("connect to the new database");
    migrate_to_before(&mut conn, BOT_SCOPED_VISITORS);
    let (first_bot, second_bot) = (Uuid::now_v7(), Uuid::now_v7());
    let (shared, orphan, anonymous) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    execute(
        &mut conn,
        &format!("INSERT INTO bots (id, name) VALUES ('{first_bot}', 'First'), ('{second_bot}', 'Second')"),
    );
    execute(
        &mut conn,
        &format!(
            "INSERT INTO visitors (id, external_id, name) VALUES \
             ('{shared}', 'crm-1', 'Vera'), ('{orphan}', 'crm-orphan', 'Otto'), \
             ('{anonymous}', NULL, 'Anna')"
        ),
    );
    // Before the upgrade the second bot could take over the first bot's visitor; its
    // session is stored first but started later.
    let ended_session = |visitor: Uuid, bot: Uuid, at: &str| {
        format!(
            "('{}', '{visitor}', '{bot}', 'ended', '{at}', '{at}')",
            Uuid::now_v7()
        )
    };
    let sessions = [
        ended_session(shared, second_bot, "2026-02-01 10:00:00+00"),
        ended_session(shared, first_bot, "2026-01-01 10:00:00+00"),
        ended_session(anonymous, first_bot, "2026-01-02 10:00:00+00"),
    ];
    execute(
        &mut conn,
        &format!(
            "INSERT INTO chat_sessions \
             (id, visitor_id, created_by_bot_id, status, created_at, ended_at) VALUES {}",
            sessions.join(", ")
        ),
    );
    drop(conn);

    let app = TestApp::spawn_on(&database).await;

    let owner = |visitor: Uuid| {
        query_text(
            &mut app.db(),
            &format!("SELECT bot_id::text FROM visitors WHERE id = '{visitor}'"),
        )
    };
    assert_eq!(owner(shared), Some(first_bot.to_string()));
    assert_eq!(owner(orphan), None, "no bot session, no bot");
    assert_eq!(owner(anonymous), None, "no external_id, nothing to scope");
    let (first, second) = (bot_token(first_bot), bot_token(second_bot));
    let again = hand_off(&app, &first, json!({"visitor": {"external_id": "crm-1"}})).await;
    assert_eq!(text(&again, "/visitor/id"), shared.to_string());
    let taken = hand_off(&app, &second, json!({"visitor": {"external_id": "crm-1"}})).await;
    assert_ne!(text(&taken, "/visitor/id"), shared.to_string());
    for bot in [&first, &second] {
        let created = hand_off(&app, bot, json!({"visitor": {"external_id": "crm-orphan"}})).await;
        assert_ne!(text(&created, "/visitor/id"), orphan.to_string());
    }
}
