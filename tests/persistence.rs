//! Group commit against real Postgres: concurrent writes share transactions, nobody hears
//! back before their write is durable, and the database itself refuses a repeated `seq`
//! or a message for a session that does not exist.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use chrono::Utc;
use common::TestApp;
use diesel::prelude::*;
use futures_util::future::join_all;
use switchboard::actors::persistence::Transact;
use switchboard::db;
use switchboard::db::messages::Message;
use switchboard::domain::{
    MessageId, MessageKind, ParticipantType, Priority, SessionId, SessionStatus, VisitorId,
};
use switchboard::error::{Error, ErrorCode};

fn open_session(conn: &mut PgConnection) -> SessionId {
    let visitor = db::visitors::insert(
        conn,
        &db::visitors::NewVisitor {
            id: VisitorId::new(),
            external_id: None,
            name: None,
            email: None,
            phone: None,
        },
    )
    .unwrap();
    db::sessions::insert(
        conn,
        &db::sessions::NewChatSession {
            id: SessionId::new(),
            visitor_id: visitor.id,
            created_by_bot_id: None,
            idempotency_key: None,
            priority: Priority::Medium,
            intent: None,
            language: None,
            skills: vec![],
            page_url: None,
            user_agent: None,
            metadata: serde_json::json!({}),
            status: SessionStatus::Waiting,
            callback_requested: false,
            left_message_at: None,
        },
    )
    .unwrap()
    .id
}

fn message(session: SessionId, seq: i32) -> Message {
    Message {
        id: MessageId::new(),
        session_id: session,
        seq,
        sender_type: ParticipantType::Visitor,
        sender_id: None,
        kind: MessageKind::Text,
        body: format!("message {seq}"),
        attachment_id: None,
        client_msg_id: None,
        created_at: Utc::now(),
    }
}

fn stored(conn: &mut PgConnection, id: MessageId) -> bool {
    use db::schema::messages;
    messages::table
        .find(id)
        .count()
        .get_result::<i64>(conn)
        .unwrap()
        == 1
}

/// Appends each message as a write of its own, all at once, so that they share
/// transactions; the results are in the messages' order.
async fn append_each_at_once(app: &TestApp, messages: Vec<Message>) -> Vec<Result<(), Error>> {
    let persistence = &app.app_state.persistence;
    join_all(messages.into_iter().map(|m| persistence.append(vec![m], 0))).await
}

#[actix_web::test]
async fn concurrent_writes_share_transactions_and_every_reply_follows_its_commit() {
    let app = TestApp::spawn().await;
    let sessions: Vec<SessionId> = (0..20).map(|_| open_session(&mut app.db())).collect();
    let persistence = app.app_state.persistence.clone();
    let checked = Arc::new(AtomicUsize::new(0));

    let writes = (0..400).map(|i| {
        let persistence = persistence.clone();
        let checked = checked.clone();
        let row = message(sessions[i % 20], (i / 20) as i32 + 1);
        let database = app.database.clone();
        async move {
            let id = row.id;
            persistence.append(vec![row], 0).await.unwrap();
            // Another connection must already see the row when the reply arrives.
            let mut observer = PgConnection::establish(&common::database_url(&database)).unwrap();
            assert!(
                stored(&mut observer, id),
                "reply for {id} arrived before its commit"
            );
            checked.fetch_add(1, Ordering::Relaxed);
        }
    });
    join_all(writes).await;

    assert_eq!(checked.load(Ordering::Relaxed), 400);
    let metrics = &app.app_state.metrics;
    assert!(
        metrics.batch_requests.count_above(1.0) > 0,
        "no transaction merged two or more writes"
    );
    let mut conn = app.db();
    let last_seqs: Vec<i32> = db::schema::chat_sessions::table
        .select(db::schema::chat_sessions::last_seq)
        .load(&mut conn)
        .unwrap();
    assert!(
        last_seqs.iter().all(|seq| *seq == 20),
        "last_seq follows the messages: {last_seqs:?}"
    );
}

#[actix_web::test]
async fn a_repeated_seq_is_refused_and_does_not_fail_its_neighbours() {
    let app = TestApp::spawn().await;
    let session = open_session(&mut app.db());
    let other = open_session(&mut app.db());
    let persistence = app.app_state.persistence.clone();
    persistence
        .append(vec![message(session, 1)], 0)
        .await
        .unwrap();

    let duplicate = message(session, 1);
    let neighbours: Vec<Message> = (1..=50).map(|seq| message(other, seq)).collect();
    let results = append_each_at_once(&app, [vec![duplicate], neighbours.clone()].concat()).await;

    assert_eq!(results[0].as_ref().unwrap_err().code, ErrorCode::Conflict);
    assert!(
        results[1..].iter().all(Result::is_ok),
        "neighbours failed with the duplicate"
    );
    let mut conn = app.db();
    assert!(neighbours.iter().all(|m| stored(&mut conn, m.id)));
}

#[actix_web::test]
async fn a_message_for_a_session_that_does_not_exist_is_refused_alone() {
    let app = TestApp::spawn().await;
    let session = open_session(&mut app.db());

    let stray = message(SessionId::new(), 1);
    let neighbours: Vec<Message> = (1..=50).map(|seq| message(session, seq)).collect();
    let results =
        append_each_at_once(&app, [vec![stray.clone()], neighbours.clone()].concat()).await;

    assert_eq!(results[0].as_ref().unwrap_err().code, ErrorCode::Internal);
    assert!(
        results[1..].iter().all(Result::is_ok),
        "neighbours failed with the stray message"
    );
    let mut conn = app.db();
    assert!(
        !stored(&mut conn, stray.id),
        "a message without a session was stored"
    );
    assert!(neighbours.iter().all(|m| stored(&mut conn, m.id)));
}

#[actix_web::test]
async fn a_transaction_returns_its_value_after_commit() {
    let app = TestApp::spawn().await;
    let persistence = app.app_state.persistence.clone();
    let visitor = persistence
        .transact(Transact::new(|conn| {
            Ok(db::visitors::insert(
                conn,
                &db::visitors::NewVisitor {
                    id: VisitorId::new(),
                    external_id: Some("crm-7".into()),
                    name: Some("Vera".into()),
                    email: None,
                    phone: None,
                },
            )?)
        }))
        .await
        .unwrap();
    assert_eq!(visitor.name.as_deref(), Some("Vera"));
    let found = db::visitors::find(&mut app.db(), visitor.id).unwrap();
    assert_eq!(found.unwrap().external_id.as_deref(), Some("crm-7"));
}
