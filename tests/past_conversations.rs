//! Reading a past conversation (SPEC section 10: a specialist sees the sessions they are
//! or were assigned to): the console opens a search result read-only through
//! `GET /sessions/{id}` and `GET /sessions/{id}/messages`, so a specialist who handed a
//! chat on must still be able to read and list it, notes included, while strangers stay
//! out.

mod common;

use common::ws::{Chat, Server};
use common::TestApp;
use serde_json::json;

#[actix_web::test]
async fn a_specialist_reads_a_conversation_they_transferred_and_a_stranger_does_not() {
    let app = TestApp::spawn().await;
    let mut chat = Chat::open(&app).await;
    chat.specialist
        .expect_reply(
            json!({"type": "note.add", "session_id": chat.session_id,
                   "body": "Asked about the parcel"}),
            "message.ack",
        )
        .await;
    let mut ben = chat.transfer_to_new(&app, "ben@example.com").await;
    ben.end_session(&chat.session_id).await;

    let session_path = format!("/api/v1/sessions/{}", chat.session_id);
    let messages_path = format!("{session_path}/messages");
    let (status, body) = app.get(&session_path, &chat.specialist_token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["session"]["status"], "ended");
    assert!(body["session"]["tags"].is_array(), "staff see tags: {body}");
    let (status, page) = app.get(&messages_path, &chat.specialist_token).await;
    assert_eq!(status, 200, "{page}");
    let bodies: Vec<&str> = page["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["body"].as_str())
        .collect();
    assert!(bodies.contains(&"Asked about the parcel"), "{bodies:?}");

    let (status, listed) = app
        .get("/api/v1/conversations", &chat.specialist_token)
        .await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["sessions"][0]["id"], chat.session_id.as_str());

    let (_, stranger) = app.new_specialist("eve@example.com", json!({})).await;
    for path in [&session_path, &messages_path] {
        let (status, body) = app.get(path, &stranger).await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["error"]["code"], "forbidden");
    }
    let (_, listed) = app.get("/api/v1/conversations", &stranger).await;
    assert_eq!(listed["sessions"], json!([]), "a stranger lists nothing");
}
