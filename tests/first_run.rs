//! The first run (SPEC section 11): a server on a database without an admin logs a
//! one-time link; its page creates the first admin, who can then sign in; the link is
//! dead afterwards, and dies too when an admin is made another way.

mod common;

use std::process::Command;
use std::time::Duration;

use awc::Client;
use common::database_url;
use common::process::{ServerProcess, TestDatabase};
use serde_json::{json, Value};

const LINK_MARK: &str = "/admin/setup?token=";

/// The setup link the server logged, or None if it logged none.
async fn logged_link(server: &ServerProcess) -> Option<String> {
    let line = server.log_line(LINK_MARK, Duration::from_secs(5)).await?;
    let start = line.find("http://").expect("the link in the line");
    let link = line[start..].split_whitespace().next().unwrap();
    Some(link.to_owned())
}

/// The link's `/api/v1/setup?token=…` counterpart.
fn api_of(link: &str) -> String {
    link.replace("/admin/setup?", "/api/v1/setup?")
}

async fn post(url: &str, body: Value) -> (u16, Value) {
    let mut response = Client::default()
        .post(url)
        .send_json(&body)
        .await
        .expect("the server answers");
    let body = response.json::<Value>().await.unwrap_or(Value::Null);
    (response.status().as_u16(), body)
}

async fn status_of(url: &str) -> u16 {
    Client::default()
        .get(url)
        .send()
        .await
        .expect("the server answers")
        .status()
        .as_u16()
}

fn admin(email: &str) -> Value {
    json!({"email": email, "name": "First Admin", "password": "a long password"})
}

#[actix_web::test]
async fn the_logged_link_creates_the_first_admin_once() {
    let database = TestDatabase::fresh();
    let server = ServerProcess::start(&database.name, &[]).await;
    let link = logged_link(&server).await.expect("a setup link in the log");
    assert!(
        link.starts_with(&format!("{}{LINK_MARK}", server.address())),
        "{link}"
    );

    // The page, with the admin page's policy.
    let page = Client::default().get(&link).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let policy = page.headers().get("content-security-policy").unwrap();
    let admin_page = Client::default()
        .get(format!("{}/admin", server.address()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        Some(policy),
        admin_page.headers().get("content-security-policy")
    );

    let api = api_of(&link);
    assert_eq!(status_of(&api).await, 204);
    let forged = format!("{}/api/v1/setup?token={}", server.address(), "0".repeat(64));
    let (status, body) = post(&forged, admin("eve@example.com")).await;
    assert_eq!((status, &body["error"]["code"]), (404, &json!("not_found")));
    // A bad form is refused and leaves the link working.
    let (status, body) = post(
        &api,
        json!({"email": "ada@example.com", "name": "Ada",
                                           "password": "short"}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(status_of(&api).await, 204);

    let (status, created) = post(&api, admin("ada@example.com")).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["specialist"]["role"], "admin");
    let (status, login) = post(
        &format!("{}/api/v1/auth/login", server.address()),
        json!({"email": "ada@example.com", "password": "a long password"}),
    )
    .await;
    assert_eq!(status, 200, "{login}");
    assert_eq!(login["specialist"]["role"], "admin");

    // Dead afterwards, for the page and for a second admin.
    assert_eq!(status_of(&api).await, 404);
    let (status, _) = post(&api, admin("mallory@example.com")).await;
    assert_eq!(status, 404);

    // With an admin there, a restart logs no link.
    drop(server);
    let again = ServerProcess::start(&database.name, &[]).await;
    assert_eq!(
        again.log_line(LINK_MARK, Duration::from_millis(500)).await,
        None
    );
}

#[actix_web::test]
async fn two_uses_at_once_make_one_admin() {
    let database = TestDatabase::fresh();
    let server = ServerProcess::start(&database.name, &[]).await;
    let api = api_of(&logged_link(&server).await.expect("a setup link"));

    let (first, second) = tokio::join!(
        post(&api, admin("one@example.com")),
        post(&api, admin("two@example.com"))
    );

    let mut statuses = [first.0, second.0];
    statuses.sort();
    assert_eq!(statuses, [201, 404], "{first:?} {second:?}");
}

#[actix_web::test]
async fn an_admin_made_on_the_command_line_kills_the_link() {
    let database = TestDatabase::fresh();
    let server = ServerProcess::start(&database.name, &[]).await;
    let api = api_of(&logged_link(&server).await.expect("a setup link"));
    assert_eq!(status_of(&api).await, 204);

    let made = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["create-admin", "--email", "ops@example.com"])
        .args(["--password", "a long password"])
        .env("DATABASE_URL", database_url(&database.name))
        .output()
        .expect("run create-admin");
    assert!(made.status.success(), "{made:?}");

    assert_eq!(status_of(&api).await, 404);
}
