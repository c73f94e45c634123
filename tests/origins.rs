//! The widget on other sites (SPEC section 11): the visitor's HTTP calls answer CORS to
//! the pages `--allowed-origins` lists and to no others, staff and bot calls never do,
//! the widget's files load on any page, and a WebSocket upgrade that names its page is
//! judged by it: a visitor's page must be allowed, a specialist's must be the server's own.

mod common;

use std::collections::BTreeMap;

use awc::error::WsClientError;
use awc::http::Method;
use awc::ClientRequest;
use common::ws::Chat;
use common::TestApp;
use serde_json::{json, Value};

const ALLOWED: &str = "https://shop.example, https://*.example.com:*";
const SHOP: &str = "https://shop.example";
const OUTSIDER: &str = "https://elsewhere.test";
const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

async fn spawn() -> TestApp {
    TestApp::spawn_with(&["--allowed-origins", ALLOWED]).await
}

/// A response: its status, its `access-control-*` headers by name, its JSON body.
struct Answer {
    status: u16,
    cors: BTreeMap<String, String>,
    body: Value,
}

impl Answer {
    fn allowed_origin(&self) -> Option<&str> {
        self.cors
            .get("access-control-allow-origin")
            .map(String::as_str)
    }
}

/// A request sent by a script on a page of `origin`.
fn from(app: &TestApp, method: Method, path: &str, origin: &str) -> ClientRequest {
    app.client
        .request(method, app.url(path))
        .insert_header(("Origin", origin))
}

/// The preflight a browser sends before a `method` request with `headers` from a page of
/// `origin`.
fn preflight(
    app: &TestApp,
    method: &str,
    path: &str,
    origin: &str,
    headers: &str,
) -> ClientRequest {
    from(app, Method::OPTIONS, path, origin)
        .insert_header(("Access-Control-Request-Method", method))
        .insert_header(("Access-Control-Request-Headers", headers))
}

async fn send(request: ClientRequest, body: Option<Value>) -> Answer {
    let mut response = match body {
        Some(body) => request.send_json(&body).await,
        None => request.send().await,
    }
    .expect("the server answers");
    let cors = response
        .headers()
        .iter()
        .filter(|(name, _)| name.as_str().starts_with("access-control-"))
        .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
        .collect();
    let bytes = response.body().await.expect("a body");
    Answer {
        status: response.status().as_u16(),
        cors,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

/// The status of a WebSocket upgrade from a page of `origin` (none: not a browser).
async fn upgrade(app: &TestApp, token: &str, origin: Option<&str>) -> u16 {
    let url = format!("{}/ws?token={token}", app.address.replacen("http", "ws", 1));
    let mut request = app.client.ws(url);
    if let Some(origin) = origin {
        request = request.origin(origin);
    }
    match request.connect().await {
        Ok(_) => 101,
        Err(WsClientError::InvalidResponseStatus(status)) => status.as_u16(),
        Err(error) => panic!("the upgrade failed: {error}"),
    }
}

/// The server's own origin with another port: another site.
fn other_port(app: &TestApp) -> String {
    let port: u16 = app.address.rsplit(':').next().unwrap().parse().unwrap();
    format!(
        "http://127.0.0.1:{}",
        port.checked_add(1).unwrap_or(port - 1)
    )
}

#[actix_web::test]
async fn a_listed_site_signs_visitors_up_after_a_preflight() {
    let app = spawn().await;
    for origin in [
        SHOP,
        "https://shop.example:443",
        "https://help.example.com",
        "https://eu.help.example.com:8443",
    ] {
        let answer = send(
            preflight(&app, "POST", "/api/v1/visitors", origin, "content-type"),
            None,
        )
        .await;
        assert_eq!(answer.status, 200, "{origin}: {:?}", answer.cors);
        assert_eq!(answer.allowed_origin(), Some(origin));
        assert!(answer.cors["access-control-allow-methods"].contains("POST"));
        assert!(answer.cors["access-control-allow-headers"].contains("content-type"));
        assert!(!answer.cors.contains_key("access-control-allow-credentials"));

        let request = from(&app, Method::POST, "/api/v1/visitors", origin);
        let answer = send(request, Some(json!({"name": "Olga"}))).await;
        assert_eq!(answer.status, 201, "{origin}: {}", answer.body);
        assert_eq!(answer.allowed_origin(), Some(origin));
        assert!(!answer.cors.contains_key("access-control-allow-credentials"));
    }
}

#[actix_web::test]
async fn an_unlisted_site_gets_no_cors_answer() {
    let app = spawn().await;
    for origin in [
        OUTSIDER,
        "http://shop.example",
        "https://shop.example:8443",
        "https://example.com",
        "https://evilexample.com",
        "https://help.example.com.evil",
        "null",
    ] {
        let answer = send(
            preflight(&app, "POST", "/api/v1/visitors", origin, "content-type"),
            None,
        )
        .await;
        assert_eq!(answer.status, 400, "{origin}");
        assert_eq!(answer.body["error"]["code"], "bad_request", "{origin}");
        assert_eq!(answer.cors, BTreeMap::new(), "{origin}");

        let request = from(&app, Method::POST, "/api/v1/visitors", origin);
        let answer = send(request, Some(json!({}))).await;
        assert_eq!(answer.cors, BTreeMap::new(), "{origin}");
    }
}

#[actix_web::test]
async fn a_listed_site_uploads_and_downloads_files_and_checks_its_token() {
    let app = spawn().await;
    let chat = Chat::open(&app).await;
    let token = &chat.visitor_token;
    let upload_path = format!("/api/v1/sessions/{}/attachments", chat.session_id);
    let answer = send(
        preflight(&app, "POST", &upload_path, SHOP, "authorization"),
        None,
    )
    .await;
    assert_eq!(answer.allowed_origin(), Some(SHOP));

    let (content_type, body) = common::multipart_file("dot.png", PNG);
    let mut response = from(&app, Method::POST, &upload_path, SHOP)
        .bearer_auth(token)
        .insert_header(("Content-Type", content_type))
        .send_body(body)
        .await
        .expect("the upload reaches the server");
    assert_eq!(response.status().as_u16(), 201);
    assert_eq!(
        response
            .headers()
            .get("access-control-allow-origin")
            .unwrap(),
        SHOP
    );
    let uploaded: Value = response.json().await.expect("a JSON body");
    let url = uploaded["attachment"]["url"].as_str().unwrap();

    let answer = send(preflight(&app, "GET", url, SHOP, "authorization"), None).await;
    assert_eq!(answer.allowed_origin(), Some(SHOP));
    let answer = send(from(&app, Method::GET, url, SHOP).bearer_auth(token), None).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.allowed_origin(), Some(SHOP));

    let sessions = "/api/v1/sessions?limit=1";
    let answer = send(
        from(&app, Method::GET, sessions, SHOP).bearer_auth(token),
        None,
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.allowed_origin(), Some(SHOP));
    let answer = send(
        from(&app, Method::GET, url, OUTSIDER).bearer_auth(token),
        None,
    )
    .await;
    assert_eq!(answer.cors, BTreeMap::new());
}

#[actix_web::test]
async fn staff_and_bot_calls_carry_no_cors_headers_even_for_a_listed_site() {
    let app = spawn().await;
    let admin = app.admin_token().await;
    for path in ["/api/v1/specialists", "/api/v1/stats", "/api/v1/queue"] {
        let answer = send(
            from(&app, Method::GET, path, SHOP).bearer_auth(&admin),
            None,
        )
        .await;
        assert_eq!(answer.status, 200, "{path}");
        assert_eq!(answer.cors, BTreeMap::new(), "{path}");
    }
    for (method, path) in [
        ("POST", "/api/v1/auth/login"),
        ("POST", "/api/v1/specialists"),
        ("POST", "/api/v1/sessions"),
        (
            "DELETE",
            "/api/v1/attachments/0190b1a2-0000-7000-8000-000000000000",
        ),
    ] {
        let answer = send(
            preflight(&app, method, path, SHOP, "authorization, content-type"),
            None,
        )
        .await;
        assert_eq!(answer.cors, BTreeMap::new(), "{method} {path}");
    }
    // The widget may list its own sessions on the path where bots hand visitors over,
    // and ask for a conversation's transcript by mail.
    let transcript = "/api/v1/sessions/0190b1a2-0000-7000-8000-000000000000/transcript/email";
    for (method, path) in [("GET", "/api/v1/sessions"), ("POST", transcript)] {
        let answer = send(
            preflight(&app, method, path, SHOP, "authorization, content-type"),
            None,
        )
        .await;
        assert_eq!(answer.allowed_origin(), Some(SHOP), "{method} {path}");
    }
}

#[actix_web::test]
async fn the_widgets_files_load_on_any_site_and_the_consoles_do_not() {
    let app = spawn().await;
    for path in [
        "/widget.js",
        "/assets/widget/main.js",
        "/assets/lib/socket.js",
        "/assets/widget.css",
    ] {
        let answer = send(from(&app, Method::GET, path, OUTSIDER), None).await;
        assert_eq!(answer.status, 200, "{path}");
        assert_eq!(answer.allowed_origin(), Some("*"), "{path}");
        assert!(!answer.cors.contains_key("access-control-allow-credentials"));
    }
    for path in [
        "/console",
        "/assets/console/main.js",
        "/assets/admin/main.js",
    ] {
        let answer = send(from(&app, Method::GET, path, SHOP), None).await;
        assert_eq!(answer.status, 200, "{path}");
        assert_eq!(answer.cors, BTreeMap::new(), "{path}");
    }
}

#[actix_web::test]
async fn any_page_may_ask_whether_it_may_use_the_widget() {
    let app = spawn().await;
    for (origin, allowed) in [
        (SHOP, true),
        ("https://help.example.com", true),
        (app.address.as_str(), true),
        (OUTSIDER, false),
        ("null", false),
    ] {
        let answer = send(from(&app, Method::GET, "/api/v1/embedding", origin), None).await;
        assert_eq!(answer.status, 200, "{origin}");
        assert_eq!(answer.body, json!({"allowed": allowed}), "{origin}");
        assert_eq!(
            answer.allowed_origin(),
            Some(origin),
            "readable by {origin}"
        );
    }
    let (status, body) = app.call("GET", "/api/v1/embedding", None, None).await;
    assert_eq!((status, body), (200, json!({"allowed": true})));
}

#[actix_web::test]
async fn a_visitors_socket_opens_only_from_a_page_that_may_run_the_widget() {
    let app = spawn().await;
    let (_, visitor) = app.visitor("Vic").await;
    assert_eq!(upgrade(&app, &visitor, Some(SHOP)).await, 101);
    assert_eq!(
        upgrade(&app, &visitor, Some("https://a.b.example.com")).await,
        101
    );
    assert_eq!(
        upgrade(&app, &visitor, Some(&app.address)).await,
        101,
        "the demo page"
    );
    assert_eq!(upgrade(&app, &visitor, Some(OUTSIDER)).await, 403);
    assert_eq!(upgrade(&app, &visitor, Some("null")).await, 403);

    let refused = from(&app, Method::GET, &format!("/ws?token={visitor}"), OUTSIDER);
    let answer = send(refused, None).await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.body["error"]["code"], "forbidden");
}

#[actix_web::test]
async fn staff_sockets_open_only_from_the_servers_own_pages() {
    let app = spawn().await;
    let admin = app.admin_token().await;
    let (_, specialist) = app.specialist(&admin, "sam@example.com", json!({})).await;
    for token in [&specialist, &admin] {
        assert_eq!(upgrade(&app, token, Some(&app.address)).await, 101);
        assert_eq!(upgrade(&app, token, Some(SHOP)).await, 403, "a listed site");
        assert_eq!(upgrade(&app, token, Some(OUTSIDER)).await, 403);
        assert_eq!(upgrade(&app, token, Some(&other_port(&app))).await, 403);
    }
    let refused = from(&app, Method::GET, &format!("/ws?token={specialist}"), SHOP);
    let answer = send(refused, None).await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.body["error"]["code"], "forbidden");
}

#[actix_web::test]
async fn a_socket_without_origin_is_judged_by_its_token_alone() {
    let app = spawn().await;
    let (_, visitor) = app.visitor("Nia").await;
    let (_, specialist) = app
        .specialist(&app.admin_token().await, "sam@example.com", json!({}))
        .await;
    assert_eq!(upgrade(&app, &visitor, None).await, 101);
    assert_eq!(upgrade(&app, &specialist, None).await, 101);
    assert_eq!(upgrade(&app, "not.a.token", None).await, 401);
    assert_eq!(upgrade(&app, "not.a.token", Some(OUTSIDER)).await, 401);
}

#[actix_web::test]
async fn by_default_every_site_may_use_the_widget_but_not_the_console() {
    let app = TestApp::spawn().await;
    let request = from(&app, Method::POST, "/api/v1/visitors", OUTSIDER);
    let answer = send(request, Some(json!({}))).await;
    assert_eq!(answer.status, 201);
    assert_eq!(answer.allowed_origin(), Some(OUTSIDER));
    let visitor = answer.body["token"].as_str().unwrap().to_owned();
    assert_eq!(upgrade(&app, &visitor, Some(OUTSIDER)).await, 101);
    let admin = app.admin_token().await;
    assert_eq!(upgrade(&app, &admin, Some(OUTSIDER)).await, 403);
}
