//! Mail to visitors (SPEC section 14) through a real SMTP server: a visitor whose
//! conversation has ended gets its transcript by mail, once, in plain text, without the
//! specialists' notes; mail written while the mail server is down goes once it is back;
//! nothing a visitor calls themselves reaches the mail's headers.

mod common;

use std::time::{Duration, Instant};

use common::process::execute;
use common::smtp::{free_port, smtp_url, ReceivedMail, SmtpServer};
use common::ws::WsClient;
use common::TestApp;
use serde_json::{json, Value};

const REPLY: &str = "Your parcel left our warehouse today.";
const NOTE: &str = "internal: refund already approved";
const THANKS: &str = "Thanks! <script>alert(1)</script>";
const MAIL_TIMEOUT: Duration = Duration::from_secs(20);

/// An admin and a specialist who is online to take conversations.
struct Desk {
    admin: String,
    specialist: WsClient,
    specialist_token: String,
}

async fn desk(app: &TestApp) -> Desk {
    let admin = app.admin_token().await;
    let (_, specialist_token) = app.specialist(&admin, "sam@example.com", json!({})).await;
    let mut specialist = WsClient::connect(app, &specialist_token).await;
    specialist.go_online().await;
    Desk {
        admin,
        specialist,
        specialist_token,
    }
}

/// Signs a visitor up with `details` (`name`, `email`); returns their token.
async fn visitor(app: &TestApp, details: Value) -> String {
    let (status, body) = app
        .call("POST", "/api/v1/visitors", None, Some(details))
        .await;
    assert_eq!(status, 201, "{body}");
    body["token"].as_str().expect("a token").to_owned()
}

/// A conversation the specialist answered (and wrote a note in) and the visitor thanked
/// for; returns its session, still open, and the visitor's connection.
async fn answered(desk: &mut Desk, app: &TestApp, visitor_token: &str) -> (Value, WsClient) {
    let mut visitor = WsClient::connect(app, visitor_token).await;
    let session = visitor.start_session(json!({})).await;
    let id = session["id"].as_str().expect("a session id").to_owned();
    desk.specialist.accept_next_offer().await;
    visitor.recv_type("session.assigned").await;
    desk.specialist.say(&id, REPLY).await;
    desk.specialist
        .expect_reply(
            json!({"type": "note.add", "session_id": id, "body": NOTE}),
            "message.ack",
        )
        .await;
    visitor.say(&id, THANKS).await;
    (session, visitor)
}

/// [`answered`], then ended by the visitor; returns the session.
async fn ended(desk: &mut Desk, app: &TestApp, visitor_token: &str) -> Value {
    let (session, mut visitor) = answered(desk, app, visitor_token).await;
    visitor
        .end_session(session["id"].as_str().expect("a session id"))
        .await;
    session
}

async fn request_transcript(
    app: &TestApp,
    session: &Value,
    token: &str,
    body: Value,
) -> (u16, Value) {
    let path = format!(
        "/api/v1/sessions/{}/transcript/email",
        session["id"].as_str().unwrap()
    );
    app.post(&path, token, body).await
}

/// The admin listing's entry for mail `id`.
async fn listed(app: &TestApp, admin: &str, id: &Value) -> Value {
    let (status, body) = app.get("/api/v1/mail", admin).await;
    assert_eq!(status, 200, "{body}");
    body["mail"]
        .as_array()
        .expect("a list")
        .iter()
        .find(|mail| &mail["id"] == id)
        .unwrap_or_else(|| panic!("mail {id} not listed: {body}"))
        .clone()
}

/// Polls the listing until mail `id` satisfies `done`; returns its entry.
async fn listed_when(
    app: &TestApp,
    admin: &str,
    id: &Value,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + MAIL_TIMEOUT;
    loop {
        let mail = listed(app, admin, id).await;
        if done(&mail) {
            return mail;
        }
        assert!(
            Instant::now() < deadline,
            "not within {MAIL_TIMEOUT:?}: {mail}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    }
}

fn the_one(received: Vec<ReceivedMail>) -> ReceivedMail {
    assert_eq!(received.len(), 1, "{received:?}");
    received.into_iter().next().expect("one mail")
}

#[actix_web::test]
async fn a_visitor_gets_the_transcript_by_mail_in_plain_text_without_notes() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with(&["--smtp-url", &smtp.url()]).await;
    let mut desk = desk(&app).await;
    let token = visitor(&app, json!({"name": "Vera", "email": "vera@example.com"})).await;
    let session = ended(&mut desk, &app, &token).await;

    let (status, body) = request_transcript(&app, &session, &token, json!({})).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["mail"]["kind"], "transcript");
    assert_eq!(body["mail"]["to"], "vera@example.com");
    assert_eq!(body["mail"]["session_id"], session["id"]);

    let mail = the_one(smtp.wait_for(1, MAIL_TIMEOUT).await);
    assert_eq!(mail.recipients(), vec!["vera@example.com"]);
    assert_eq!(mail.all("To"), vec!["Vera <vera@example.com>"]);
    assert_eq!(
        mail.header("Content-Type"),
        Some("text/plain; charset=utf-8")
    );
    let number = session["number"].as_str().expect("a number");
    assert!(
        mail.header("Subject").unwrap_or_default().contains(number),
        "{mail:?}"
    );
    assert!(mail.body.contains(REPLY), "{}", mail.body);
    assert!(
        mail.body.contains(THANKS),
        "markup stays literal text: {}",
        mail.body
    );
    assert!(
        !mail.body.contains(NOTE),
        "a note was mailed: {}",
        mail.body
    );

    let listed = listed_when(&app, &desk.admin, &body["mail"]["id"], |m| {
        m["status"] != "pending"
    })
    .await;
    assert_eq!(listed["status"], "sent", "{listed}");
    assert_eq!(listed["attempts"], 1);
    assert!(listed["sent_at"].is_string(), "{listed}");

    let (status, again) = request_transcript(&app, &session, &token, json!({})).await;
    assert_eq!(status, 409, "{again}");
    actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(smtp.received().len(), 1, "the transcript went out twice");
}

#[actix_web::test]
async fn the_transcript_goes_to_the_address_asked_for_else_the_one_on_record() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with(&["--smtp-url", &smtp.url()]).await;
    let mut desk = desk(&app).await;

    let anonymous = visitor(&app, json!({})).await;
    let first = ended(&mut desk, &app, &anonymous).await;
    let (status, body) = request_transcript(&app, &first, &anonymous, json!({})).await;
    assert_eq!(status, 400, "no address to send to: {body}");
    let (status, body) =
        request_transcript(&app, &first, &anonymous, json!({"email": "not an address"})).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) =
        request_transcript(&app, &first, &anonymous, json!({"email": "Me@Example.org"})).await;
    assert_eq!(status, 202, "{body}");

    let known = visitor(&app, json!({"email": "known@example.com"})).await;
    let second = ended(&mut desk, &app, &known).await;
    let (status, body) = request_transcript(&app, &second, &known, json!({})).await;
    assert_eq!(status, 202, "{body}");

    let received = smtp.wait_for(2, MAIL_TIMEOUT).await;
    let mut recipients: Vec<String> = received.iter().flat_map(ReceivedMail::recipients).collect();
    recipients.sort();
    assert_eq!(recipients, vec!["known@example.com", "me@example.org"]);
}

#[actix_web::test]
async fn only_the_visitor_of_an_ended_conversation_someone_answered_may_have_it_mailed() {
    let app = TestApp::spawn().await;
    let mut desk = desk(&app).await;
    let token = visitor(&app, json!({"email": "vera@example.com"})).await;
    let (session, mut visitor_ws) = answered(&mut desk, &app, &token).await;

    let (status, body) = request_transcript(&app, &session, &token, json!({})).await;
    assert_eq!(status, 409, "still open: {body}");

    visitor_ws
        .end_session(session["id"].as_str().unwrap())
        .await;
    let stranger = visitor(&app, json!({"email": "eve@example.com"})).await;
    let (status, body) = request_transcript(&app, &session, &stranger, json!({})).await;
    assert_eq!(status, 403, "another visitor: {body}");
    for staff in [&desk.specialist_token, &desk.admin] {
        let (status, body) = request_transcript(&app, &session, staff, json!({})).await;
        assert_eq!(status, 403, "staff: {body}");
    }
    let (_, bot) = app.bot(&desk.admin, "helper").await;
    let (status, body) = request_transcript(&app, &session, &bot, json!({})).await;
    assert_eq!(status, 403, "a bot: {body}");
    let unknown = json!({"id": uuid::Uuid::new_v4().to_string()});
    let (status, body) = request_transcript(&app, &unknown, &token, json!({})).await;
    assert_eq!(status, 404, "{body}");

    // Nobody wrote back: there is nothing of the service's own to mail.
    let lonely = visitor(&app, json!({"email": "lonely@example.com"})).await;
    let mut lonely_ws = WsClient::connect(&app, &lonely).await;
    desk.specialist.set_status("away").await;
    let unanswered = lonely_ws.start_session(json!({})).await;
    let unanswered_id = unanswered["id"].as_str().unwrap();
    lonely_ws.say(unanswered_id, "hello? anyone?").await;
    lonely_ws.end_session(unanswered_id).await;
    let (status, body) = request_transcript(&app, &unanswered, &lonely, json!({})).await;
    assert_eq!(status, 409, "{body}");
}

#[actix_web::test]
async fn only_admins_list_the_mail() {
    let app = TestApp::spawn().await;
    let desk = desk(&app).await;
    let token = visitor(&app, json!({})).await;
    let (_, bot) = app.bot(&desk.admin, "helper").await;
    for caller in [&desk.specialist_token, &token, &bot] {
        let (status, body) = app.get("/api/v1/mail", caller).await;
        assert_eq!(status, 403, "{body}");
    }
    let (status, body) = app.get("/api/v1/mail?limit=0", &desk.admin).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = app.get("/api/v1/mail?limit=10", &desk.admin).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["mail"], json!([]));
}

#[actix_web::test]
async fn mail_waits_while_the_mail_server_is_down_and_goes_once_it_is_back() {
    let port = free_port();
    let app = TestApp::spawn_with(&["--smtp-url", &smtp_url(port)]).await;
    let mut desk = desk(&app).await;
    let token = visitor(&app, json!({"email": "vera@example.com"})).await;
    let session = ended(&mut desk, &app, &token).await;
    let (status, body) = request_transcript(&app, &session, &token, json!({})).await;
    assert_eq!(status, 202, "{body}");
    let id = body["mail"]["id"].clone();

    let failed = listed_when(&app, &desk.admin, &id, |m| m["attempts"].as_i64() > Some(0)).await;
    assert_eq!(failed["status"], "pending", "{failed}");
    assert!(failed["last_error"].is_string(), "{failed}");
    assert!(failed["next_attempt_at"].is_string(), "{failed}");

    let smtp = SmtpServer::start_on(port).await;
    let mail = the_one(smtp.wait_for(1, MAIL_TIMEOUT).await);
    assert_eq!(mail.recipients(), vec!["vera@example.com"]);
    assert!(mail.body.contains(REPLY), "{}", mail.body);
    let sent = listed_when(&app, &desk.admin, &id, |m| m["status"] == "sent").await;
    assert!(sent["attempts"].as_i64() > Some(1), "{sent}");
    assert!(sent.get("next_attempt_at").is_none(), "{sent}");
}

#[actix_web::test]
async fn without_a_mail_server_mail_stays_pending_and_says_why() {
    let app = TestApp::spawn().await;
    let mut desk = desk(&app).await;
    let token = visitor(&app, json!({"email": "vera@example.com"})).await;
    let session = ended(&mut desk, &app, &token).await;
    let (status, body) = request_transcript(&app, &session, &token, json!({})).await;
    assert_eq!(status, 202, "{body}");

    let waiting = listed_when(&app, &desk.admin, &body["mail"]["id"], |m| {
        m["last_error"].is_string()
    })
    .await;
    assert_eq!(waiting["status"], "pending", "{waiting}");
    let error = waiting["last_error"].as_str().unwrap();
    assert!(error.contains("SMTP is not configured"), "{error}");
}

#[actix_web::test]
async fn a_visitors_name_cannot_add_recipients_or_headers() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_with(&["--smtp-url", &smtp.url()]).await;
    let mut desk = desk(&app).await;
    let injected = "Eve\r\nBcc: x@example.com";
    let (status, body) = app
        .call(
            "POST",
            "/api/v1/visitors",
            None,
            Some(json!({"name": injected, "email": "eve@example.com"})),
        )
        .await;
    assert_eq!(
        status, 400,
        "a name with a line break is refused at sign-up: {body}"
    );

    // Should such a name get in by another way, the mail still carries it harmlessly.
    let token = visitor(&app, json!({"name": "Eve", "email": "eve@example.com"})).await;
    execute(
        &mut app.db(),
        "UPDATE visitors SET name = E'Eve\\r\\nBcc: x@example.com' WHERE email = 'eve@example.com'",
    );
    let session = ended(&mut desk, &app, &token).await;
    let (status, body) = request_transcript(&app, &session, &token, json!({})).await;
    assert_eq!(status, 202, "{body}");

    let mail = the_one(smtp.wait_for(1, MAIL_TIMEOUT).await);
    assert_eq!(mail.recipients(), vec!["eve@example.com"]);
    assert!(mail.all("Bcc").is_empty(), "{mail:?}");
    assert!(mail.all("Cc").is_empty(), "{mail:?}");
    let to = mail.all("To");
    assert_eq!(to.len(), 1, "{mail:?}");
    assert!(to[0].ends_with("<eve@example.com>"), "{mail:?}");
}
