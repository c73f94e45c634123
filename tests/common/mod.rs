//! The test harness: every test gets its own freshly migrated Postgres database (a copy
//! of a template migrated once per test binary) and its own server on a random port, so
//! tests run in parallel against the real thing.
#![allow(dead_code)]

pub mod nats;
pub mod process;
pub mod smtp;
pub mod ws;

use std::sync::{Mutex, OnceLock};

use awc::Client;
use clap::Parser;
use diesel::{Connection, PgConnection, RunQueryDsl};
use serde_json::{json, Value};
use switchboard::config::Config;
use switchboard::startup::Application;

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "admin-password";
pub const JWT_SECRET: &str = "test-secret-for-switchboard-tests";

/// The Postgres server the tests use: `DATABASE_URL` with its database name ignored.
pub fn server_url() -> String {
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    match url.rfind('/') {
        Some(i) if url[..i].contains("//") && i > url.find("//").unwrap() + 1 => {
            url[..i].to_owned()
        }
        _ => url,
    }
}

/// Without TLS or GSSAPI encryption: the server is local, and libpq's OpenSSL and Kerberos
/// state torn down at process exit while a pool thread still uses its connection aborts
/// the test binary.
pub fn database_url(name: &str) -> String {
    format!("{}/{name}?sslmode=disable&gssencmode=disable", server_url())
}

fn admin_connection() -> PgConnection {
    PgConnection::establish(&database_url("postgres")).expect("connect to the test Postgres server")
}

pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

/// Creating databases from one template must not overlap: Postgres refuses to copy a
/// template that another session is using.
static CREATE_LOCK: Mutex<()> = Mutex::new(());

fn template() -> &'static str {
    static TEMPLATE: OnceLock<String> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let name = unique_name("sbt_template");
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin_connection())
            .expect("create the template database");
        switchboard::db::migrate(&database_url(&name)).expect("migrate the template database");
        name
    })
}

/// A new, migrated, empty database; returns its name.
pub fn fresh_database() -> String {
    let template = template();
    let name = unique_name("sbt");
    let _guard = CREATE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    diesel::sql_query(format!("CREATE DATABASE {name} TEMPLATE {template}"))
        .execute(&mut admin_connection())
        .expect("create a test database");
    name
}

/// A new database without any tables, as on a fresh install.
pub fn empty_database() -> String {
    let name = unique_name("sbt");
    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut admin_connection())
        .expect("create an empty test database");
    name
}

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    config: Config,
}

/// Server settings for a test: random port, private data dir, fixed secret.
pub fn test_config(database: &str, extra: &[&str]) -> Config {
    let data_dir = std::env::temp_dir().join(unique_name("switchboard-test"));
    let data_dir = data_dir.to_string_lossy().into_owned();
    let url = database_url(database);
    let defaults = [
        ("--database-url", url.as_str()),
        ("--bind", "127.0.0.1:0"),
        ("--jwt-secret", JWT_SECRET),
        ("--workers", "2"),
        ("--db-pool-size", "4"),
        ("--visitor-signups-per-minute", "1000"),
        ("--data-dir", data_dir.as_str()),
    ];
    let mut args = vec!["switchboard"];
    for (flag, value) in defaults {
        if !extra.contains(&flag) {
            args.extend([flag, value]);
        }
    }
    args.extend_from_slice(extra);
    Args::parse_from(args).config
}

pub struct TestApp {
    pub address: String,
    pub database: String,
    pub client: Client,
    pub app_state: switchboard::state::AppState,
    pub handle: actix_web::dev::ServerHandle,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(&[]).await
    }

    pub async fn spawn_with(extra: &[&str]) -> TestApp {
        Self::spawn_on_with(&fresh_database(), extra).await
    }

    /// A server on an existing database (migrated at start if it is not yet).
    pub async fn spawn_on(database: &str) -> TestApp {
        Self::spawn_on_with(database, &[]).await
    }

    pub async fn spawn_on_with(database: &str, extra: &[&str]) -> TestApp {
        let database = database.to_owned();
        let config = test_config(&database, extra);
        let app = Application::build(config)
            .await
            .expect("build the application");
        let address = format!("http://127.0.0.1:{}", app.port());
        let app_state = app.state().clone();
        let handle = app.handle();
        actix_web::rt::spawn(app.run_until_stopped());
        TestApp {
            address,
            database,
            client: Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .finish(),
            app_state,
            handle,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub fn db(&self) -> PgConnection {
        PgConnection::establish(&database_url(&self.database))
            .expect("connect to the test database")
    }

    /// Sends a request and returns status and JSON body (Null when the body is empty).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let method = awc::http::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let mut response = match body {
            Some(body) => request.send_json(&body).await,
            None => request.send().await,
        }
        .expect("request reaches the server");
        let status = response.status().as_u16();
        let bytes = response
            .body()
            .limit(16 * 1024 * 1024)
            .await
            .expect("read the body");
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                panic!(
                    "non-JSON body from {path}: {}",
                    String::from_utf8_lossy(&bytes)
                )
            })
        };
        (status, json)
    }

    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.call("GET", path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.call("POST", path, Some(token), Some(body)).await
    }

    /// Uploads `bytes` as the file `name` to a session (`POST .../attachments`, one
    /// multipart part; the server decides the type from the bytes); returns status and
    /// JSON body.
    pub async fn upload(
        &self,
        session_id: &str,
        token: &str,
        name: &str,
        bytes: &[u8],
    ) -> (u16, Value) {
        let (status, _, body) = self
            .upload_with_retry_after(session_id, token, name, bytes)
            .await;
        (status, body)
    }

    /// [`TestApp::upload`], with the response's `Retry-After` header.
    pub async fn upload_with_retry_after(
        &self,
        session_id: &str,
        token: &str,
        name: &str,
        bytes: &[u8],
    ) -> (u16, Option<String>, Value) {
        let (content_type, body) = multipart_file(name, bytes);
        let mut response = self
            .client
            .post(self.url(&format!("/api/v1/sessions/{session_id}/attachments")))
            .bearer_auth(token)
            .insert_header(("Content-Type", content_type))
            .send_body(body)
            .await
            .expect("upload reaches the server");
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().expect("an ASCII header").to_owned());
        let body = response
            .json::<Value>()
            .limit(1 << 20)
            .await
            .expect("a JSON body");
        (status, retry_after, body)
    }

    /// Creates the admin straight in the database and logs in.
    pub async fn admin_token(&self) -> String {
        let new = switchboard::accounts::new_specialist(switchboard::accounts::SpecialistInput {
            email: ADMIN_EMAIL.into(),
            name: "Ada Admin".into(),
            password: ADMIN_PASSWORD.into(),
            role: Some(switchboard::domain::Role::Admin),
            skills: vec![],
            languages: None,
            max_concurrent_chats: None,
        })
        .unwrap();
        let mut conn = self.db();
        if switchboard::db::specialists::find_by_email(&mut conn, ADMIN_EMAIL)
            .unwrap()
            .is_none()
        {
            switchboard::accounts::insert_specialist(&mut conn, &new).unwrap();
        }
        self.login(ADMIN_EMAIL, ADMIN_PASSWORD).await
    }

    pub async fn login(&self, email: &str, password: &str) -> String {
        let (status, body) = self
            .call(
                "POST",
                "/api/v1/auth/login",
                None,
                Some(json!({"email": email, "password": password})),
            )
            .await;
        assert_eq!(status, 200, "login failed: {body}");
        body["token"].as_str().unwrap().to_owned()
    }

    /// Creates a specialist through the admin API; returns (id, token).
    pub async fn specialist(&self, admin: &str, email: &str, extra: Value) -> (String, String) {
        let mut body = json!({"email": email, "name": email.split('@').next().unwrap(), "password": "specialist-pw"});
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        let (status, created) = self.post("/api/v1/specialists", admin, body).await;
        assert_eq!(status, 201, "create specialist: {created}");
        let token = self.login(email, "specialist-pw").await;
        (
            created["specialist"]["id"].as_str().unwrap().to_owned(),
            token,
        )
    }

    /// Creates a visitor; returns (id, token).
    pub async fn visitor(&self, name: &str) -> (String, String) {
        let (status, body) = self
            .call(
                "POST",
                "/api/v1/visitors",
                None,
                Some(json!({"name": name})),
            )
            .await;
        assert_eq!(status, 201, "create visitor: {body}");
        (
            body["visitor"]["id"].as_str().unwrap().to_owned(),
            body["token"].as_str().unwrap().to_owned(),
        )
    }

    /// Creates a bot through the admin API; returns (id, token).
    pub async fn bot(&self, admin: &str, name: &str) -> (String, String) {
        let (status, body) = self
            .post("/api/v1/bots", admin, json!({"name": name}))
            .await;
        assert_eq!(status, 201, "create bot: {body}");
        (
            body["bot"]["id"].as_str().unwrap().to_owned(),
            body["token"].as_str().unwrap().to_owned(),
        )
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Set SWITCHBOARD_KEEP_TEST_DATABASES to look at a test's data after it ran.
        if std::env::var_os("SWITCHBOARD_KEEP_TEST_DATABASES").is_none() {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.database
            ))
            .execute(&mut admin_connection());
        }
    }
}

/// Base64url without padding, for hand-made tokens.
/// `text` percent-encoded for a query string.
pub fn encode_query(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn base64_url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |acc, b| (acc << 8) | *b as u32) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// An upload's form: the `Content-Type` to send, and the body with `bytes` as the one
/// file part, named `name`.
pub fn multipart_file(name: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "switchboard-test-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; \
         filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}
