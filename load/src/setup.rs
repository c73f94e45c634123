//! Creating the people a scenario needs through the public HTTP API, as an admin would.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::json;
use tokio::task::JoinSet;

use crate::http::HttpClient;
use crate::Result;

const PASSWORD: &str = "load-test-password";
/// Sign-ups in flight at once; enough to keep the server's workers busy.
const SIGNUP_CONNECTIONS: usize = 32;

pub struct Target {
    pub server: SocketAddr,
    /// Where visitors and consoles of a chat connect, each in turn.
    pub visitor_servers: Vec<SocketAddr>,
    pub console_servers: Vec<SocketAddr>,
    pub admin_email: String,
    pub admin_password: String,
}

pub async fn admin_token(target: &Target) -> Result<String> {
    let mut http = HttpClient::new(target.server);
    let body = json!({"email": target.admin_email, "password": target.admin_password});
    let reply = http
        .expect(200, "POST", "/api/v1/auth/login", None, Some(&body))
        .await?;
    Ok(reply["token"]
        .as_str()
        .ok_or("login without token")?
        .to_owned())
}

/// Creates `count` specialists with the given capacity and returns their tokens.
pub async fn specialists(target: &Target, count: usize, capacity: usize) -> Result<Vec<String>> {
    let admin = admin_token(target).await?;
    // Unique per run, so scenarios can share a database.
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis();
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = JoinSet::new();
    // Password hashing dominates here; two at a time keeps both cores busy.
    for _ in 0..2.min(count) {
        let (server, admin, next) = (target.server, admin.clone(), next.clone());
        workers.spawn(async move {
            let mut http = HttpClient::new(server);
            let mut tokens = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    return Ok::<_, crate::Error>(tokens);
                }
                let email = format!("load-{run}-{i}@bench.test");
                let create = json!({
                    "email": email,
                    "name": format!("Load {i}"),
                    "password": PASSWORD,
                    "max_concurrent_chats": capacity,
                });
                http.expect(
                    201,
                    "POST",
                    "/api/v1/specialists",
                    Some(&admin),
                    Some(&create),
                )
                .await?;
                let login = json!({"email": email, "password": PASSWORD});
                let reply = http
                    .expect(200, "POST", "/api/v1/auth/login", None, Some(&login))
                    .await?;
                tokens.push(reply["token"].as_str().ok_or("no token")?.to_owned());
            }
        });
    }
    let mut tokens = Vec::with_capacity(count);
    while let Some(done) = workers.join_next().await {
        tokens.extend(done??);
    }
    Ok(tokens)
}

/// Signs up `count` visitors (`POST /api/v1/visitors`) and returns their tokens.
pub async fn visitors(server: SocketAddr, count: usize) -> Result<Vec<String>> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = JoinSet::new();
    for _ in 0..SIGNUP_CONNECTIONS.min(count) {
        let next = next.clone();
        workers.spawn(async move {
            let mut http = HttpClient::new(server);
            let mut tokens = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < count {
                let reply = http
                    .expect(201, "POST", "/api/v1/visitors", None, None)
                    .await?;
                tokens.push(reply["token"].as_str().ok_or("no token")?.to_owned());
            }
            Ok::<_, crate::Error>(tokens)
        });
    }
    let mut tokens = Vec::with_capacity(count);
    while let Some(done) = workers.join_next().await {
        tokens.extend(done??);
    }
    Ok(tokens)
}
