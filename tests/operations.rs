//! Operations (SPEC section 8): health, readiness, metrics, and the bootstrap commands
//! that make a fresh database usable.

mod common;

use std::process::Command;

use common::{database_url, empty_database, TestApp, JWT_SECRET};
use serde_json::json;
use switchboard::auth::TokenKeys;
use switchboard::domain::Role;

#[actix_web::test]
async fn health_readiness_and_metrics_answer() {
    let app = TestApp::spawn().await;
    let (status, _) = app.call("GET", "/healthz", None, None).await;
    assert_eq!(status, 200);
    let (status, body) = app.call("GET", "/readyz", None, None).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ready")));

    app.call("POST", "/api/v1/visitors", None, Some(json!({})))
        .await;
    let mut response = app.client.get(app.url("/metrics")).send().await.unwrap();
    let text = String::from_utf8(response.body().await.unwrap().to_vec()).unwrap();
    assert!(
        text.contains(
            r#"switchboard_http_requests_total{route="/api/v1/visitors",status="201"} 1"#
        ),
        "{text}"
    );
    for name in [
        "switchboard_http_request_duration_seconds_bucket",
        "switchboard_db_pool_connections",
        "switchboard_db_batch_requests_count",
        "switchboard_db_commit_duration_seconds_bucket",
    ] {
        assert!(text.contains(name), "{name} missing from /metrics");
    }
}

#[actix_web::test]
async fn create_admin_and_bot_token_work_on_a_fresh_database() {
    let database = empty_database();
    let data_dir =
        std::env::temp_dir().join(format!("switchboard-cli-{}", uuid::Uuid::new_v4().simple()));
    let run = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(args)
            .env("DATABASE_URL", database_url(&database))
            .env("SWITCHBOARD_JWT_SECRET", JWT_SECRET)
            .env("SWITCHBOARD_DATA_DIR", &data_dir)
            .env("RUST_LOG", "warn")
            .output()
            .expect("run the switchboard binary");
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    run(&[
        "create-admin",
        "--email",
        "root@example.com",
        "--password",
        "bootstrap-pw",
    ]);
    let bot_token = run(&["bot-token", "--name", "Intake bot"]);
    let claims = TokenKeys::new(JWT_SECRET.as_bytes())
        .verify(bot_token.trim())
        .unwrap();
    assert_eq!(claims.role, Role::Bot);

    // The same database now serves: the admin logs in and sees the bot.
    let app = TestApp::spawn_on(&database).await;
    let admin = app.login("root@example.com", "bootstrap-pw").await;
    let (status, body) = app.get("/api/v1/bots", &admin).await;
    assert_eq!(status, 200);
    assert_eq!(body["bots"][0]["name"], "Intake bot");
    let (status, _) = app.get("/api/v1/bots", bot_token.trim()).await;
    assert_eq!(status, 403, "the printed bot token authenticates");
}

#[test]
fn help_documents_every_setting_with_its_default() {
    let output = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    for (variable, default) in [
        ("DATABASE_URL", ""),
        ("SWITCHBOARD_BIND", "127.0.0.1:8080"),
        ("SWITCHBOARD_DATA_DIR", "var"),
        ("SWITCHBOARD_ATTACHMENT_DIR", "<data dir>/attachments"),
        ("SWITCHBOARD_MAX_UPLOAD_BYTES", "10485760"),
        ("SWITCHBOARD_JWT_SECRET", "generated"),
        ("SWITCHBOARD_OFFER_TIMEOUT_SECS", "20"),
        ("SWITCHBOARD_AUTO_ACCEPT", "false"),
        ("SWITCHBOARD_ABANDON_AFTER_SECS", "120"),
        ("SWITCHBOARD_SPECIALIST_GRACE_SECS", "60"),
        ("SWITCHBOARD_WEBHOOK_ALLOW_PRIVATE", "false"),
    ] {
        assert!(help.contains(variable), "{variable} not in --help:\n{help}");
        assert!(
            help.contains(default),
            "default {default} of {variable} not in --help"
        );
    }
}
