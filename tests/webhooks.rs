//! Webhooks (SPEC section 10): a real receiver (an HTTP server started by the test)
//! gets every subscribed event, signed, at least once — after it was down, after the
//! server was killed — while a hanging receiver slows neither the others nor the chat.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use common::process::{eventually, execute, query_i64, ServerProcess, TestDatabase};
use common::ws::{Chat, Server, WsClient};
use common::TestApp;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

const ALLOW_PRIVATE: &[&str] = &["--webhook-allow-private", "true"];
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);

/// One POST the receiver got.
#[derive(Clone)]
struct Received {
    signature: Option<String>,
    body: Vec<u8>,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// A webhook receiver on 127.0.0.1: answers 200, or never answers when it hangs; over
/// https when it has a TLS configuration.
struct Receiver {
    port: u16,
    hang: bool,
    tls: Option<Arc<rustls::ServerConfig>>,
    received: Arc<Mutex<Vec<Received>>>,
    handle: ServerHandle,
}

impl Receiver {
    async fn start() -> Receiver {
        Self::start_on(0, false, None, Arc::default()).await
    }

    async fn hanging() -> Receiver {
        Self::start_on(0, true, None, Arc::default()).await
    }

    async fn https(certificate: &TestCertificate) -> Receiver {
        Self::start_on(0, false, Some(certificate.server_config()), Arc::default()).await
    }

    async fn start_on(
        port: u16,
        hang: bool,
        tls: Option<Arc<rustls::ServerConfig>>,
        received: Arc<Mutex<Vec<Received>>>,
    ) -> Receiver {
        let store = received.clone();
        let server = HttpServer::new(move || {
            let store = store.clone();
            App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                let store = store.clone();
                async move {
                    if hang {
                        actix_web::rt::time::sleep(Duration::from_secs(120)).await;
                    }
                    let signature = req
                        .headers()
                        .get("X-Switchboard-Signature")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    store.lock().unwrap().push(Received {
                        signature,
                        body: body.to_vec(),
                    });
                    HttpResponse::Ok().finish()
                }
            }))
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(0);
        let server = match &tls {
            Some(tls) => server.bind_rustls_0_23(("127.0.0.1", port), (**tls).clone()),
            None => server.bind(("127.0.0.1", port)),
        }
        .expect("bind the receiver");
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Receiver {
            port,
            hang,
            tls,
            received,
            handle,
        }
    }

    fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}/hook", self.port)
    }

    /// Stops listening; `restart` brings it back on the same port with what it got so far.
    async fn stop(self) -> StoppedReceiver {
        self.handle.stop(false).await;
        StoppedReceiver {
            port: self.port,
            hang: self.hang,
            tls: self.tls,
            received: self.received,
        }
    }

    fn all(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// The envelopes received so far, deduplicated by event id as a receiver should.
    fn events(&self) -> Vec<Value> {
        let mut seen = HashSet::new();
        self.all()
            .iter()
            .map(Received::json)
            .filter(|event| seen.insert(event["id"].as_str().unwrap().to_owned()))
            .collect()
    }

    async fn wait_for(&self, what: &str, mut done: impl FnMut(&[Value]) -> bool) -> Vec<Value> {
        eventually(what, DELIVERY_TIMEOUT, || {
            let events = self.events();
            done(&events).then_some(events)
        })
        .await
    }
}

struct StoppedReceiver {
    port: u16,
    hang: bool,
    tls: Option<Arc<rustls::ServerConfig>>,
    received: Arc<Mutex<Vec<Received>>>,
}

impl StoppedReceiver {
    async fn restart(self) -> Receiver {
        Receiver::start_on(self.port, self.hang, self.tls, self.received).await
    }
}

/// A certificate for 127.0.0.1 issued by a private CA made for the test; the CA's PEM
/// file is what an operator would pass as `--webhook-ca-file`.
struct TestCertificate {
    ca_file: std::path::PathBuf,
    chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    key_der: Vec<u8>,
}

impl TestCertificate {
    fn issue() -> TestCertificate {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "Switchboard test CA");
        let ca = ca.self_signed(&ca_key).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .unwrap()
            .signed_by(&key, &ca, &ca_key)
            .unwrap();
        let ca_file = std::env::temp_dir().join(common::unique_name("webhook-ca") + ".pem");
        std::fs::write(&ca_file, ca.pem()).unwrap();
        TestCertificate {
            ca_file,
            chain: vec![leaf.der().clone()],
            key_der: key.serialize_der(),
        }
    }

    fn server_config(&self) -> Arc<rustls::ServerConfig> {
        let key = rustls::pki_types::PrivatePkcs8KeyDer::from(self.key_der.clone());
        let config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), key.into())
            .unwrap();
        Arc::new(config)
    }
}

fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

async fn create_webhook(app: &TestApp, admin: &str, url: &str, events: Value) -> Value {
    let (status, body) = app
        .post(
            "/api/v1/webhooks",
            admin,
            json!({"url": url, "events": events}),
        )
        .await;
    assert_eq!(status, 201, "create webhook: {body}");
    body
}

fn message_bodies(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|event| event["event"] == "message.created")
        .map(|event| {
            event["data"]["message"]["body"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[actix_web::test]
async fn a_receiver_gets_every_subscribed_event_signed_and_never_notes() {
    let app = TestApp::spawn_with(ALLOW_PRIVATE).await;
    let admin = app.admin_token().await;
    let everything = Receiver::start().await;
    let endings = Receiver::start().await;
    let (status, created) = app
        .post(
            "/api/v1/webhooks",
            &admin,
            json!({"url": everything.url(), "secret": "a shared secret",
                   "events": ["session.created", "session.assigned", "session.ended",
                              "session.rated", "message.created"]}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let only_endings = create_webhook(&app, &admin, &endings.url(), json!(["session.ended"])).await;

    let mut chat = Chat::open(&app).await;
    let session = chat.session_id.clone();
    chat.visitor.say(&session, "my order is late").await;
    chat.specialist.say(&session, "let me check").await;
    chat.specialist
        .expect_reply(
            json!({"type": "note.add", "session_id": session, "body": "secret note"}),
            "message.ack",
        )
        .await;
    chat.specialist.end_session(&session).await;
    chat.visitor
        .expect_reply(
            json!({"type": "session.rate", "session_id": session, "rating": 5}),
            "session.rated",
        )
        .await;

    let events = everything
        .wait_for("every subscribed event", |events| events.len() >= 6)
        .await;
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "session.created",
            "session.assigned",
            "message.created",
            "message.created",
            "session.ended",
            "session.rated"
        ]
    );
    assert_eq!(
        message_bodies(&events),
        ["my order is late", "let me check"]
    );
    for event in &events {
        assert!(event["created_at"].is_string(), "{event}");
    }
    assert_eq!(events[0]["data"]["session"]["id"], session.as_str());
    assert_eq!(events[5]["data"]["session"]["rating"], 5);
    for received in everything.all() {
        assert_eq!(
            received.signature.as_deref(),
            Some(signature("a shared secret", &received.body).as_str())
        );
    }

    let ended = endings
        .wait_for("the ending", |events| !events.is_empty())
        .await;
    assert_eq!(ended[0]["event"], "session.ended");
    let generated = only_endings["secret"].as_str().unwrap();
    let received = &endings.all()[0];
    assert_eq!(
        received.signature.as_deref(),
        Some(signature(generated, &received.body).as_str())
    );

    // Nothing else arrives: no note, nothing the second webhook did not subscribe to.
    actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(everything.events().len(), 6);
    assert_eq!(endings.events().len(), 1);

    let id = created["webhook"]["id"].as_str().unwrap();
    let (status, history) = app
        .get(&format!("/api/v1/webhooks/{id}/deliveries"), &admin)
        .await;
    assert_eq!(status, 200);
    let deliveries = history["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 6);
    assert!(deliveries
        .iter()
        .all(|d| d["status_code"] == 200 && d["attempt"] == 1));
    assert_eq!(deliveries[0]["event"], "session.rated", "newest first");
}

#[actix_web::test]
async fn a_handed_off_transcript_reaches_the_receiver_as_messages() {
    let app = TestApp::spawn_with(ALLOW_PRIVATE).await;
    let admin = app.admin_token().await;
    let receiver = Receiver::start().await;
    create_webhook(
        &app,
        &admin,
        &receiver.url(),
        json!(["session.created", "message.created"]),
    )
    .await;
    let (_, bot) = app.bot(&admin, "Intake").await;
    let (status, body) = app
        .post(
            "/api/v1/sessions",
            &bot,
            json!({"visitor": {"name": "Olga"},
                   "transcript": [{"from": "visitor", "body": "hi"},
                                  {"from": "bot", "body": "connecting you"}]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    let events = receiver
        .wait_for("the handoff", |events| events.len() >= 4)
        .await;
    assert_eq!(events[0]["event"], "session.created");
    assert_eq!(events[0]["data"]["session"]["id"], body["session"]["id"]);
    let kinds: Vec<&str> = events[1..]
        .iter()
        .map(|e| e["data"]["message"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["text", "text", "system"]);
    assert_eq!(message_bodies(&events)[..2], ["hi", "connecting you"]);
}

#[actix_web::test]
async fn a_transfer_reaches_the_receiver_with_its_system_message_but_not_its_note() {
    let app = TestApp::spawn_with(ALLOW_PRIVATE).await;
    let admin = app.admin_token().await;
    let receiver = Receiver::start().await;
    create_webhook(
        &app,
        &admin,
        &receiver.url(),
        json!(["session.transferred", "message.created"]),
    )
    .await;
    let mut chat = Chat::open(&app).await;
    chat.specialist
        .expect_reply(
            json!({"type": "session.transfer", "session_id": chat.session_id,
                   "note": "billing question"}),
            "session.transferred",
        )
        .await;

    let events = receiver
        .wait_for("the transfer", |events| events.len() >= 2)
        .await;
    assert_eq!(events[0]["event"], "session.transferred");
    assert_eq!(events[0]["data"]["session"]["status"], "waiting");
    assert_eq!(
        events[0]["data"]["actor"]["id"],
        chat.specialist_id.as_str()
    );
    assert_eq!(events[1]["data"]["message"]["kind"], "system");
    actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(receiver.events().len(), 2, "the note was delivered");
}

#[actix_web::test]
async fn a_visitor_who_leaves_the_queue_reaches_the_receiver_as_abandoned() {
    let app = TestApp::spawn_with(&[ALLOW_PRIVATE, &["--abandon-after-secs", "1"]].concat()).await;
    let admin = app.admin_token().await;
    let receiver = Receiver::start().await;
    create_webhook(&app, &admin, &receiver.url(), json!(["session.abandoned"])).await;
    let (_, token) = app.visitor("Lee").await;
    let mut visitor = WsClient::connect(&app, &token).await;
    let session = visitor.start_session(json!({})).await;
    visitor.disconnect().await;

    let events = receiver
        .wait_for("the abandoned session", |events| !events.is_empty())
        .await;
    assert_eq!(events[0]["event"], "session.abandoned");
    assert_eq!(events[0]["data"]["session"]["id"], session["id"]);
    assert_eq!(events[0]["data"]["session"]["status"], "abandoned");
}

#[actix_web::test]
async fn messages_left_reach_the_receiver_like_any_conversation() {
    let app = TestApp::spawn_with(ALLOW_PRIVATE).await;
    let admin = app.admin_token().await;
    let receiver = Receiver::start().await;
    let events = json!(["session.created", "session.offline", "message.created"]);
    create_webhook(&app, &admin, &receiver.url(), events).await;
    let leave = |session: Option<&Value>| {
        let mut frame = json!({"type": "message.leave", "email": "lee@example.com",
                               "body": "Call me tomorrow"});
        if let Some(session) = session {
            frame["session_id"] = session["id"].clone();
        }
        frame
    };
    // One visitor leaves a message while nobody is there, another after waiting.
    let (_, first) = app.visitor("Lee").await;
    let mut first = WsClient::connect(&app, &first).await;
    let left = first.expect_reply(leave(None), "session.offline").await;
    let (_, second) = app.visitor("Kim").await;
    let mut second = WsClient::connect(&app, &second).await;
    let waiting = second.start_session(json!({})).await;
    second
        .expect_reply(leave(Some(&waiting)), "session.offline")
        .await;

    let events = receiver
        .wait_for("both sessions and messages", |events| events.len() >= 5)
        .await;
    let of = |kind: &str, session: &Value| {
        events
            .iter()
            .filter(|e| e["event"] == kind && e["data"]["session"]["id"] == session["id"])
            .count()
    };
    let left = &left["session"];
    assert_eq!(of("session.created", left), 1, "{events:?}");
    assert_eq!(
        of("session.offline", left),
        0,
        "created offline: {events:?}"
    );
    assert_eq!(of("session.created", &waiting), 1, "{events:?}");
    assert_eq!(of("session.offline", &waiting), 1, "{events:?}");
    assert_eq!(message_bodies(&events), vec!["Call me tomorrow"; 2]);
    let switched = events
        .iter()
        .find(|e| e["event"] == "session.offline")
        .unwrap();
    assert_eq!(switched["data"]["session"]["status"], "offline");
}

#[actix_web::test]
async fn an_https_receiver_with_a_certificate_from_a_trusted_ca_gets_the_events() {
    let certificate = TestCertificate::issue();
    let ca_file = certificate.ca_file.to_str().unwrap();
    let app = TestApp::spawn_with(&[ALLOW_PRIVATE, &["--webhook-ca-file", ca_file]].concat()).await;
    let admin = app.admin_token().await;
    let receiver = Receiver::https(&certificate).await;
    let created = create_webhook(&app, &admin, &receiver.url(), json!(["message.created"])).await;
    let secret = created["secret"].as_str().unwrap().to_owned();

    let mut chat = Chat::open(&app).await;
    chat.visitor.say(&chat.session_id, "over TLS").await;

    let events = receiver
        .wait_for("the message over https", |events| !events.is_empty())
        .await;
    assert_eq!(message_bodies(&events), ["over TLS"]);
    let received = &receiver.all()[0];
    assert_eq!(
        received.signature.as_deref(),
        Some(signature(&secret, &received.body).as_str())
    );
}

#[actix_web::test]
async fn an_https_receiver_the_server_does_not_trust_gets_nothing() {
    let certificate = TestCertificate::issue();
    let app = TestApp::spawn_with(ALLOW_PRIVATE).await;
    let admin = app.admin_token().await;
    let receiver = Receiver::https(&certificate).await;
    let created = create_webhook(&app, &admin, &receiver.url(), json!(["message.created"])).await;
    let id = created["webhook"]["id"].as_str().unwrap().to_owned();

    let mut chat = Chat::open(&app).await;
    chat.visitor
        .say(&chat.session_id, "not for strangers")
        .await;

    let path = format!("/api/v1/webhooks/{id}/deliveries");
    let started = Instant::now();
    let history = loop {
        let (_, history) = app.get(&path, &admin).await;
        if !history["deliveries"].as_array().unwrap().is_empty() {
            break history;
        }
        assert!(
            started.elapsed() < DELIVERY_TIMEOUT,
            "no attempt: {history}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    };
    let attempt = &history["deliveries"][0];
    assert!(attempt["status_code"].is_null(), "{history}");
    assert!(
        attempt["error"].as_str().unwrap().contains("certificate"),
        "{history}"
    );
    assert!(
        receiver.all().is_empty(),
        "an untrusted receiver got the event"
    );
}

#[actix_web::test]
async fn file_and_scheduled_messages_reach_the_receiver() {
    let app = TestApp::spawn_with(ALLOW_PRIVATE).await;
    let admin = app.admin_token().await;
    let receiver = Receiver::start().await;
    create_webhook(&app, &admin, &receiver.url(), json!(["message.created"])).await;
    let mut chat = Chat::open(&app).await;
    let session = chat.session_id.clone();
    let (status, uploaded) = app
        .upload(
            &session,
            &chat.visitor_token,
            "receipt.txt",
            b"paid in full",
        )
        .await;
    assert_eq!(status, 201, "{uploaded}");
    let attachment = uploaded["attachment"]["id"].clone();

    chat.visitor
        .expect_reply(
            json!({"type": "message.send", "session_id": session, "client_msg_id": "file-1",
                   "attachment_id": attachment}),
            "message.ack",
        )
        .await;
    let send_at = chrono::Utc::now() + chrono::TimeDelta::milliseconds(500);
    chat.specialist
        .expect_reply(
            json!({"type": "message.send", "session_id": session, "client_msg_id": "later-1",
                   "body": "Sent later", "send_at": send_at.to_rfc3339()}),
            "message.scheduled",
        )
        .await;

    let events = receiver
        .wait_for("the file and the scheduled message", |events| {
            message_bodies(events).contains(&"Sent later".to_owned())
                && events
                    .iter()
                    .any(|e| e["data"]["message"]["kind"] == "file")
        })
        .await;
    let file = events
        .iter()
        .find(|e| e["data"]["message"]["kind"] == "file")
        .unwrap();
    assert_eq!(file["data"]["message"]["attachment_id"], attachment);
}

#[actix_web::test]
async fn a_receiver_that_was_down_gets_the_events_through_retries() {
    let app = TestApp::spawn_with(ALLOW_PRIVATE).await;
    let admin = app.admin_token().await;
    let receiver = Receiver::start().await;
    let created = create_webhook(&app, &admin, &receiver.url(), json!(["message.created"])).await;
    let id = created["webhook"]["id"].as_str().unwrap().to_owned();
    let stopped = receiver.stop().await;

    let mut chat = Chat::open(&app).await;
    chat.visitor.say(&chat.session_id, "anyone there?").await;
    chat.specialist.say(&chat.session_id, "yes").await;
    let path = format!("/api/v1/webhooks/{id}/deliveries");
    let started = Instant::now();
    loop {
        let (_, history) = app.get(&path, &admin).await;
        let failed = history["deliveries"].as_array().unwrap();
        let events: HashSet<&str> = failed
            .iter()
            .map(|d| d["event_id"].as_str().unwrap())
            .collect();
        if events.len() == 2 && failed.iter().any(|d| d["attempt"] == 2) {
            assert!(
                failed.iter().all(|d| d["status_code"].is_null()),
                "{history}"
            );
            assert!(failed.iter().all(|d| d["error"].is_string()), "{history}");
            break;
        }
        assert!(started.elapsed() < DELIVERY_TIMEOUT, "no retry: {history}");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }

    let receiver = stopped.restart().await;
    let events = receiver
        .wait_for("delivery after the receiver came back", |events| {
            events.len() >= 2
        })
        .await;
    // Retries keep no order between events; receivers order by the message's `seq`.
    let mut bodies = message_bodies(&events);
    bodies.sort();
    assert_eq!(bodies, ["anyone there?", "yes"]);
    let (_, history) = app.get(&path, &admin).await;
    let delivered: Vec<&Value> = history["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["status_code"] == 200)
        .collect();
    assert_eq!(delivered.len(), 2, "{history}");
    assert!(
        delivered
            .iter()
            .all(|d| d["attempt"].as_i64().unwrap() >= 2),
        "{history}"
    );
}

#[actix_web::test]
async fn events_committed_just_before_a_kill_are_delivered_after_the_restart() {
    let database = TestDatabase::fresh();
    let flags = [
        ALLOW_PRIVATE,
        &["--auto-accept", "true", "--ws-rate-per-sec", "100000"],
    ]
    .concat();
    let mut server = ServerProcess::start(&database.name, &flags).await;
    let (_, admin) = server
        .new_specialist("admin@example.com", json!({"role": "admin"}))
        .await;
    let receiver = Receiver::start().await;
    subscribe_to_messages(&server, &admin, &receiver).await;
    // The receiver is away when the server dies, so nothing can have been delivered.
    let stopped = receiver.stop().await;

    let mut chat = Chat::open(&server).await;
    let session = chat.session_id.clone();
    for i in 0..200 {
        chat.visitor
            .send(json!({"type": "message.send", "session_id": session,
                                 "client_msg_id": format!("burst-{i}"), "body": format!("m{i}")}));
    }
    let mut acked = Vec::new();
    while acked.len() < 50 {
        let ack = chat.visitor.recv_type("message.ack").await;
        acked.push(ack["message"]["id"].as_str().unwrap().to_owned());
    }
    server.kill9();
    chat.visitor.closed().await;
    acked.extend(
        chat.visitor
            .take_buffered()
            .into_iter()
            .filter(|frame| frame["type"] == "message.ack")
            .map(|ack| ack["message"]["id"].as_str().unwrap().to_owned()),
    );
    let outbox = query_i64(
        &mut database.connect(),
        "SELECT count(*) FROM webhook_outbox",
    );
    assert!(
        outbox >= acked.len() as i64,
        "{outbox} events for {} acks",
        acked.len()
    );

    let _server = ServerProcess::start(&database.name, &flags).await;
    let receiver = stopped.restart().await;
    receiver
        .wait_for("every acknowledged message", |events| {
            let delivered: HashSet<&str> = events
                .iter()
                .map(|e| e["data"]["message"]["id"].as_str().unwrap())
                .collect();
            acked.iter().all(|id| delivered.contains(id.as_str()))
        })
        .await;
}

#[actix_web::test]
async fn settled_events_older_than_a_week_are_deleted_with_their_history() {
    let database = TestDatabase::fresh();
    let flags = [ALLOW_PRIVATE, &["--auto-accept", "true"]].concat();
    let mut server = ServerProcess::start(&database.name, &flags).await;
    let (_, admin) = server
        .new_specialist("admin@example.com", json!({"role": "admin"}))
        .await;
    let receiver = Receiver::start().await;
    subscribe_to_messages(&server, &admin, &receiver).await;
    let mut chat = Chat::open(&server).await;
    for text in ["old", "old and still retrying", "recent"] {
        chat.visitor.say(&chat.session_id, text).await;
    }
    receiver
        .wait_for("every message", |events| events.len() == 3)
        .await;
    server.kill9();

    let mut conn = database.connect();
    let aged = execute(
        &mut conn,
        "UPDATE webhook_outbox SET created_at = now() - interval '8 days' \
         WHERE data->'message'->>'body' LIKE 'old%'",
    );
    assert_eq!(aged, 2);
    let retrying = execute(
        &mut conn,
        "UPDATE webhook_deliveries SET delivered_at = NULL, \
         next_attempt_at = now() + interval '1 hour' WHERE event_id IN (SELECT id FROM \
         webhook_outbox WHERE data->'message'->>'body' = 'old and still retrying')",
    );
    assert_eq!(retrying, 1);

    let _server = ServerProcess::start(&database.name, &flags).await;
    let left = eventually("the settled old event pruned", DELIVERY_TIMEOUT, || {
        let left = query_i64(&mut conn, "SELECT count(*) FROM webhook_outbox");
        (left == 2).then_some(left)
    })
    .await;
    assert_eq!(left, 2);
    let bodies = query_i64(
        &mut conn,
        "SELECT count(*) FROM webhook_outbox \
         WHERE data->'message'->>'body' IN ('old and still retrying', 'recent')",
    );
    assert_eq!(bodies, 2, "the unsettled and the recent event are kept");
    let attempts = query_i64(&mut conn, "SELECT count(*) FROM webhook_attempts");
    assert_eq!(attempts, 2, "the pruned event's attempt went with it");
}

#[actix_web::test]
async fn a_hanging_receiver_slows_neither_the_chat_nor_the_other_receivers() {
    let app = TestApp::spawn_with(ALLOW_PRIVATE).await;
    let admin = app.admin_token().await;
    let hanging = Receiver::hanging().await;
    let healthy = Receiver::start().await;
    create_webhook(&app, &admin, &hanging.url(), json!(["message.created"])).await;
    create_webhook(&app, &admin, &healthy.url(), json!(["message.created"])).await;

    let mut chat = Chat::open(&app).await;
    let mut slowest = Duration::ZERO;
    for i in 0..40 {
        let started = Instant::now();
        chat.visitor
            .say(&chat.session_id, &format!("message {i}"))
            .await;
        slowest = slowest.max(started.elapsed());
    }
    assert!(
        slowest < Duration::from_millis(500),
        "an ack took {slowest:?}"
    );

    let started = Instant::now();
    healthy
        .wait_for("all 40 messages at the healthy receiver", |events| {
            events.len() >= 40
        })
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the healthy receiver waited {:?}",
        started.elapsed()
    );
}

#[actix_web::test]
async fn messages_leave_nothing_in_the_outbox_while_no_webhook_wants_them() {
    let app = TestApp::spawn_with(ALLOW_PRIVATE).await;
    let admin = app.admin_token().await;
    let receiver = Receiver::start().await;
    create_webhook(&app, &admin, &receiver.url(), json!(["session.ended"])).await;

    let mut chat = Chat::open(&app).await;
    for i in 0..5 {
        chat.visitor
            .say(&chat.session_id, &format!("message {i}"))
            .await;
    }
    chat.specialist.end_session(&chat.session_id).await;
    receiver
        .wait_for("the ending", |events| !events.is_empty())
        .await;

    let mut conn = app.db();
    let count = |conn: &mut _, event: &str| {
        query_i64(
            conn,
            &format!("SELECT count(*) FROM webhook_outbox WHERE event = '{event}'"),
        )
    };
    assert_eq!(count(&mut conn, "message.created"), 0);
    assert_eq!(count(&mut conn, "session.created"), 0);
    assert_eq!(count(&mut conn, "session.ended"), 1);
}

#[actix_web::test]
async fn a_webhook_to_a_private_address_is_refused_without_the_setting() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    for url in [
        "http://127.0.0.1:9000/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
    ] {
        let (status, body) = app
            .post(
                "/api/v1/webhooks",
                &admin,
                json!({"url": url, "events": ["session.created"]}),
            )
            .await;
        assert_eq!(status, 400, "{url}: {body}");
        assert_eq!(body["error"]["code"], "bad_request");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("private"),
            "{url}: {body}"
        );
    }
    let (_, list) = app.get("/api/v1/webhooks", &admin).await;
    assert_eq!(list["webhooks"], json!([]));
}

#[actix_web::test]
async fn only_admins_manage_webhooks_and_the_secret_is_shown_once() {
    let app = TestApp::spawn_with(ALLOW_PRIVATE).await;
    let admin = app.admin_token().await;
    let (_, specialist) = app.specialist(&admin, "sam@example.com", json!({})).await;
    let body = json!({"url": "http://127.0.0.1:9/hook", "events": ["session.ended"]});
    let (status, _) = app
        .post("/api/v1/webhooks", &specialist, body.clone())
        .await;
    assert_eq!(status, 403);
    let (status, _) = app.get("/api/v1/webhooks", &specialist).await;
    assert_eq!(status, 403);

    let (status, created) = app.post("/api/v1/webhooks", &admin, body).await;
    assert_eq!(status, 201, "{created}");
    let secret = created["secret"].as_str().unwrap();
    assert!(
        secret.len() >= 32 && secret.chars().all(|c| c.is_ascii_hexdigit()),
        "{secret}"
    );
    let id = created["webhook"]["id"].as_str().unwrap().to_owned();
    assert_eq!(created["webhook"]["events"], json!(["session.ended"]));

    let (status, list) = app.get("/api/v1/webhooks", &admin).await;
    assert_eq!(status, 200);
    assert_eq!(list["webhooks"][0]["id"], id.as_str());
    assert!(
        !list.to_string().contains(secret),
        "the list shows the secret: {list}"
    );
    assert!(list["webhooks"][0].get("secret").is_none());

    let path = format!("/api/v1/webhooks/{id}");
    let (status, _) = app.call("DELETE", &path, Some(&specialist), None).await;
    assert_eq!(status, 403);
    let (status, _) = app.get(&format!("{path}/deliveries"), &specialist).await;
    assert_eq!(status, 403);
    let (status, _) = app.call("DELETE", &path, Some(&admin), None).await;
    assert_eq!(status, 204);
    let (status, _) = app.call("DELETE", &path, Some(&admin), None).await;
    assert_eq!(status, 404);
    let (status, _) = app.get(&format!("{path}/deliveries"), &admin).await;
    assert_eq!(status, 404);
}

#[actix_web::test]
async fn bad_webhook_definitions_are_refused() {
    let app = TestApp::spawn_with(ALLOW_PRIVATE).await;
    let admin = app.admin_token().await;
    for body in [
        json!({"url": "ftp://127.0.0.1/hook", "events": ["session.ended"]}),
        json!({"url": "not a url", "events": ["session.ended"]}),
        json!({"url": "http://127.0.0.1/hook", "events": []}),
        json!({"url": "http://127.0.0.1/hook", "events": ["message.deleted"]}),
        json!({"url": "http://127.0.0.1/hook", "events": ["session.ended"], "secret": ""}),
    ] {
        let (status, answer) = app.post("/api/v1/webhooks", &admin, body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
    }
}

/// Subscribes the receiver to `message.created` on a server process.
async fn subscribe_to_messages(server: &ServerProcess, admin: &str, receiver: &Receiver) {
    let (status, body) = post(
        server.address(),
        "/api/v1/webhooks",
        admin,
        json!({"url": receiver.url(), "events": ["message.created"]}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
}

async fn post(address: &str, path: &str, token: &str, body: Value) -> (u16, Value) {
    let mut response = awc::Client::default()
        .post(format!("{address}{path}"))
        .bearer_auth(token)
        .send_json(&body)
        .await
        .expect("request reaches the server");
    let json = response.json::<Value>().await.unwrap_or(Value::Null);
    (response.status().as_u16(), json)
}
