//! Uploads are bounded (SPEC section 12): per session at most so many files and bytes,
//! per caller at most so many uploads a minute, a file past the limit is cut off and
//! leaves nothing behind, uploads never sent are deleted after a while, and a stored
//! name's extension says what the bytes are.

mod common;

use std::time::{Duration, Instant};

use common::ws::{Chat, WsClient};
use common::TestApp;
use diesel::prelude::*;
use serde_json::{json, Value};
use switchboard::db::schema::attachments;

const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

/// A visitor with a waiting session; the socket is returned to keep the visitor there.
async fn waiting_session(app: &TestApp, name: &str) -> (String, String, WsClient) {
    let (_, token) = app.visitor(name).await;
    let mut visitor = WsClient::connect(app, &token).await;
    let session = visitor.start_session(json!({})).await;
    let id = session["id"].as_str().expect("a session id").to_owned();
    (id, token, visitor)
}

/// Attachment rows of `session`.
fn rows(app: &TestApp, session: &str) -> i64 {
    let session: uuid::Uuid = session.parse().unwrap();
    attachments::table
        .filter(attachments::session_id.eq(session))
        .count()
        .get_result(&mut app.db())
        .unwrap()
}

fn row_exists(app: &TestApp, id: &Value) -> bool {
    let id: uuid::Uuid = id.as_str().unwrap().parse().unwrap();
    attachments::table
        .find(id)
        .count()
        .get_result::<i64>(&mut app.db())
        .unwrap()
        == 1
}

/// Files in the attachment directory.
fn stored_files(app: &TestApp) -> Vec<String> {
    std::fs::read_dir(app.app_state.config.attachment_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

fn file_of(app: &TestApp, uploaded: &Value) -> std::path::PathBuf {
    let id: uuid::Uuid = uploaded["attachment"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let key: String = attachments::table
        .find(id)
        .select(attachments::storage_key)
        .first(&mut app.db())
        .unwrap();
    app.app_state.config.attachment_dir().join(key)
}

/// Waits for the sweep to delete the upload's row, then its file.
async fn assert_swept(app: &TestApp, uploaded: &Value, file: &std::path::Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while row_exists(app, &uploaded["attachment"]["id"]) {
        assert!(Instant::now() < deadline, "the upload is never deleted");
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    }
    actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    assert!(!file.exists(), "the file is removed with its row");
}

fn assert_refused(status: u16, body: &Value, expected: (u16, &str)) {
    assert_eq!(
        (status, body["error"]["code"].as_str().unwrap_or_default()),
        expected,
        "{body}"
    );
}

#[actix_web::test]
async fn a_session_holding_its_most_files_refuses_the_next_and_stores_nothing() {
    let app = TestApp::spawn_with(&["--session-files", "3"]).await;
    let (session, token, _visitor) = waiting_session(&app, "Vera").await;
    for name in ["a.png", "b.png", "c.png"] {
        let (status, body) = app.upload(&session, &token, name, PNG).await;
        assert_eq!(status, 201, "{name}: {body}");
    }

    let (status, body) = app.upload(&session, &token, "d.png", PNG).await;

    assert_refused(status, &body, (413, "too_large"));
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("3 files"),
        "{body}"
    );
    assert_eq!(rows(&app, &session), 3);
    assert_eq!(stored_files(&app).len(), 3);
    let (other, other_token, _other_visitor) = waiting_session(&app, "Olga").await;
    let (status, body) = app.upload(&other, &other_token, "a.png", PNG).await;
    assert_eq!(status, 201, "another session still takes files: {body}");
}

#[actix_web::test]
async fn a_session_holding_its_most_bytes_refuses_more_and_stores_nothing() {
    let app = TestApp::spawn_with(&["--session-file-bytes", "200000"]).await;
    let (session, token, _visitor) = waiting_session(&app, "Vera").await;
    let (status, body) = app
        .upload(&session, &token, "a.txt", &[b'a'; 120_000])
        .await;
    assert_eq!(status, 201, "{body}");

    // Cut off where the session's room ends, after a part of it was written.
    let (status, body) = app.upload(&session, &token, "b.txt", &[b'b'; 80_001]).await;
    assert_refused(status, &body, (413, "too_large"));
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("200000 bytes"),
        "{body}"
    );
    assert_eq!(rows(&app, &session), 1);
    assert_eq!(stored_files(&app).len(), 1);

    // Exactly the room left fits; then not one more byte.
    let (status, body) = app.upload(&session, &token, "c.txt", &[b'c'; 80_000]).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = app.upload(&session, &token, "d.txt", b"d").await;
    assert_refused(status, &body, (413, "too_large"));
    assert_eq!(rows(&app, &session), 2);
    assert_eq!(stored_files(&app).len(), 2);

    let (other, other_token, _other_visitor) = waiting_session(&app, "Olga").await;
    let (status, body) = app
        .upload(&other, &other_token, "a.txt", &[b'a'; 120_000])
        .await;
    assert_eq!(status, 201, "another session still takes files: {body}");
}

#[actix_web::test]
async fn uploads_at_once_cannot_both_take_the_last_place_in_a_session() {
    let app = TestApp::spawn_with(&["--session-files", "1"]).await;
    let (session, token, _visitor) = waiting_session(&app, "Vera").await;
    let file = vec![b'a'; 300_000];

    let uploads = (0..8).map(|_| app.upload(&session, &token, "a.txt", &file));
    let results = futures_util::future::join_all(uploads).await;

    let statuses: Vec<u16> = results.iter().map(|(status, _)| *status).collect();
    assert_eq!(
        statuses.iter().filter(|&&s| s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 413).count(),
        7,
        "{statuses:?}"
    );
    assert_eq!(rows(&app, &session), 1);
    assert_eq!(stored_files(&app).len(), 1, "refused files are removed");
}

#[actix_web::test]
async fn uploading_faster_than_the_rate_gets_429_with_retry_after() {
    let app = TestApp::spawn_with(&["--uploads-per-minute", "2"]).await;
    let (session, token, _visitor) = waiting_session(&app, "Vera").await;
    for _ in 0..2 {
        let (status, _, body) = app
            .upload_with_retry_after(&session, &token, "a.png", PNG)
            .await;
        assert_eq!(status, 201, "{body}");
    }

    let (status, retry_after, body) = app
        .upload_with_retry_after(&session, &token, "a.png", PNG)
        .await;

    assert_refused(status, &body, (429, "rate_limited"));
    let seconds: u64 = retry_after.expect("a Retry-After header").parse().unwrap();
    assert!((1..=60).contains(&seconds), "{seconds}");
    assert_eq!(rows(&app, &session), 2);
    assert_eq!(stored_files(&app).len(), 2);
    let (other, other_token, _other_visitor) = waiting_session(&app, "Olga").await;
    let (status, _, body) = app
        .upload_with_retry_after(&other, &other_token, "a.png", PNG)
        .await;
    assert_eq!(status, 201, "the rate is per caller: {body}");
}

#[actix_web::test]
async fn an_unsent_upload_is_deleted_after_its_time_and_a_sent_one_is_kept() {
    let app = TestApp::spawn_with(&["--unsent-upload-secs", "2"]).await;
    let admin = app.admin_token().await;
    let (_, bot) = app.bot(&admin, "Intake bot").await;
    let (status, created) = app
        .post("/api/v1/sessions", &bot, json!({"visitor": {}}))
        .await;
    assert_eq!(status, 201, "{created}");
    let session = created["session"]["id"].as_str().unwrap();
    let (status, sent) = app.upload(session, &bot, "sent.png", PNG).await;
    assert_eq!(status, 201, "{sent}");
    let (status, message) = app
        .post(
            &format!("/api/v1/sessions/{session}/messages"),
            &bot,
            json!({"attachment_id": sent["attachment"]["id"]}),
        )
        .await;
    assert_eq!(status, 201, "{message}");
    let (status, unsent) = app.upload(session, &bot, "unsent.png", PNG).await;
    assert_eq!(status, 201, "{unsent}");
    let (sent_file, unsent_file) = (file_of(&app, &sent), file_of(&app, &unsent));
    assert!(unsent_file.exists());

    assert_swept(&app, &unsent, &unsent_file).await;
    assert!(row_exists(&app, &sent["attachment"]["id"]));
    assert_eq!(std::fs::read(&sent_file).unwrap(), PNG);
    let url = sent["attachment"]["url"].as_str().unwrap();
    let response = app
        .client
        .get(app.url(url))
        .bearer_auth(&bot)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
}

#[actix_web::test]
async fn the_upload_of_an_unscheduled_message_is_deleted_after_its_time() {
    let app = TestApp::spawn_with(&["--unsent-upload-secs", "2"]).await;
    let mut chat = Chat::open(&app).await;
    let session = chat.session_id.clone();
    let (status, uploaded) = app
        .upload(&session, &chat.specialist_token, "hours.png", PNG)
        .await;
    assert_eq!(status, 201, "{uploaded}");
    let file = file_of(&app, &uploaded);
    let send_at = chrono::Utc::now() + chrono::TimeDelta::hours(1);
    let scheduled = chat
        .specialist
        .expect_reply(
            json!({"type": "message.send", "session_id": session, "client_msg_id": "later",
                   "body": "Our hours", "attachment_id": uploaded["attachment"]["id"],
                   "send_at": send_at.to_rfc3339()}),
            "message.scheduled",
        )
        .await;
    // Pending, the file waits for its time however old it gets.
    actix_web::rt::time::sleep(Duration::from_secs(4)).await;
    assert!(row_exists(&app, &uploaded["attachment"]["id"]));

    chat.specialist
        .expect_reply(
            json!({"type": "message.unschedule", "scheduled_id": scheduled["scheduled_id"]}),
            "message.unscheduled",
        )
        .await;

    assert_swept(&app, &uploaded, &file).await;
}

#[actix_web::test]
async fn a_text_file_named_as_a_program_is_served_with_a_txt_name() {
    let app = TestApp::spawn().await;
    let (session, token, _visitor) = waiting_session(&app, "Vera").await;
    let (status, body) = app
        .upload(&session, &token, "run.hta", b"<script>alert(1)</script>")
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["attachment"]["file_name"], "run.hta.txt");
    assert_eq!(
        body["attachment"]["content_type"],
        "text/plain; charset=utf-8"
    );

    let url = body["attachment"]["url"].as_str().unwrap();
    let response = app
        .client
        .get(app.url(url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let disposition = response.headers().get("content-disposition").unwrap();
    assert_eq!(
        disposition.to_str().unwrap(),
        "attachment; filename=\"run.hta.txt\""
    );

    let (status, body) = app.upload(&session, &token, "photo.png", PNG).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["attachment"]["file_name"], "photo.png",
        "a true name stays"
    );
}

#[actix_web::test]
async fn an_upload_over_the_file_limit_is_refused_and_leaves_no_file() {
    let app = TestApp::spawn_with(&["--max-upload-bytes", "100000"]).await;
    let (session, token, _visitor) = waiting_session(&app, "Vera").await;

    // Within the multipart allowance of the declared length, so the file is streamed to
    // disk (more than one write) until it passes the limit.
    let (status, body) = app
        .upload(&session, &token, "big.txt", &[b'a'; 110_000])
        .await;

    assert_refused(status, &body, (413, "too_large"));
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("100000 bytes"),
        "{body}"
    );
    assert_eq!(stored_files(&app), Vec::<String>::new());
    assert_eq!(rows(&app, &session), 0);
}

#[actix_web::test]
async fn a_stranger_is_forbidden_even_when_the_session_is_full() {
    let app = TestApp::spawn_with(&["--session-files", "1", "--uploads-per-minute", "1"]).await;
    let (session, token, _visitor) = waiting_session(&app, "Vera").await;
    let (status, _) = app.upload(&session, &token, "a.png", PNG).await;
    assert_eq!(status, 201);
    let (_, stranger) = app.visitor("Mallory").await;

    for _ in 0..3 {
        let (status, body) = app.upload(&session, &stranger, "a.png", PNG).await;
        assert_refused(status, &body, (403, "forbidden"));
    }
}
