//! Logins under attack (SPEC section 12, "Login cannot starve the chat"): failed logins
//! are throttled per account and per client address with 429 and `Retry-After`, a
//! success clears the account's count, and a burst of guesses does not slow the chat.
//!
//! The server counts addresses, so these tests log in from several loopback addresses
//! (Linux routes all of 127.0.0.0/8 to the loopback interface); the harness's own client
//! comes from 127.0.0.1.

mod common;

use std::time::{Duration, Instant};

use common::ws::Chat;
use common::TestApp;
use futures_util::future::{join, join_all};
use serde_json::{json, Value};

const PASSWORD: &str = "specialist-pw";

/// What the server answered to a login.
struct Answer {
    status: u16,
    retry_after: Option<u64>,
    body: Value,
}

/// Logs in from the loopback address `from`.
async fn log_in_from(app: &TestApp, from: &str, email: &str, password: &str) -> Answer {
    let client = awc::Client::builder()
        .local_address(from.parse().expect("an IP address"))
        .timeout(Duration::from_secs(30))
        .finish();
    let mut response = client
        .post(app.url("/api/v1/auth/login"))
        .send_json(&json!({"email": email, "password": password}))
        .await
        .expect("the login reaches the server");
    let retry_after = response.headers().get("retry-after").map(|value| {
        value
            .to_str()
            .ok()
            .and_then(|text| text.parse().ok())
            .unwrap_or_else(|| panic!("Retry-After is not whole seconds: {value:?}"))
    });
    let body = response.json().await.expect("a JSON body");
    Answer {
        status: response.status().as_u16(),
        retry_after,
        body,
    }
}

fn assert_rate_limited(answer: &Answer, window_secs: u64) {
    assert_eq!(answer.status, 429, "{}", answer.body);
    assert_eq!(answer.body["error"]["code"], "rate_limited");
    let retry_after = answer.retry_after.expect("a Retry-After header");
    assert!(
        (1..=window_secs).contains(&retry_after) && retry_after > window_secs - 60,
        "Retry-After {retry_after} s: the first failure was moments ago in a {window_secs} s window"
    );
}

/// A server allowing 3 failures in 10 minutes, with specialists Sam and Ann.
async fn server_with_two_specialists() -> TestApp {
    let app = TestApp::spawn_with(&["--login-failures", "3", "--login-window-secs", "600"]).await;
    let admin = app.admin_token().await;
    app.specialist(&admin, "sam@example.com", json!({})).await;
    app.specialist(&admin, "ann@example.com", json!({})).await;
    app
}

#[actix_web::test]
async fn wrong_passwords_lock_the_account_for_a_while() {
    let app = server_with_two_specialists().await;
    // Each guess from another address, so only the account reaches the limit.
    for from in ["127.0.0.10", "127.0.0.11", "127.0.0.12"] {
        let refused = log_in_from(&app, from, "Sam@example.com", "wrong-password").await;
        assert_eq!(refused.status, 401, "{}", refused.body);
        assert_eq!(refused.body["error"]["message"], "wrong e-mail or password");
    }

    let locked = log_in_from(&app, "127.0.0.13", "sam@example.com", PASSWORD).await;
    assert_rate_limited(&locked, 600);

    let other = log_in_from(&app, "127.0.0.12", "ann@example.com", PASSWORD).await;
    assert_eq!(other.status, 200, "{}", other.body);
}

#[actix_web::test]
async fn a_successful_login_clears_the_accounts_failures() {
    let app = server_with_two_specialists().await;
    for from in ["127.0.0.10", "127.0.0.11"] {
        let refused = log_in_from(&app, from, "sam@example.com", "wrong-password").await;
        assert_eq!(refused.status, 401, "{}", refused.body);
    }
    let success = log_in_from(&app, "127.0.0.12", "sam@example.com", PASSWORD).await;
    assert_eq!(success.status, 200, "{}", success.body);

    // Without the reset the account would now be at 3 failures and refuse with 429.
    for from in ["127.0.0.13", "127.0.0.14"] {
        let refused = log_in_from(&app, from, "sam@example.com", "wrong-password").await;
        assert_eq!(refused.status, 401, "{}", refused.body);
    }
    let success = log_in_from(&app, "127.0.0.15", "sam@example.com", PASSWORD).await;
    assert_eq!(success.status, 200, "{}", success.body);
}

#[actix_web::test]
async fn guesses_at_many_accounts_from_one_address_lock_that_address() {
    let app = server_with_two_specialists().await;
    for email in ["a@example.com", "b@example.com", "ann@example.com"] {
        let refused = log_in_from(&app, "127.0.0.20", email, "wrong-password").await;
        assert_eq!(refused.status, 401, "{}", refused.body);
    }

    let locked = log_in_from(&app, "127.0.0.20", "sam@example.com", PASSWORD).await;
    assert_rate_limited(&locked, 600);

    let elsewhere = log_in_from(&app, "127.0.0.21", "sam@example.com", PASSWORD).await;
    assert_eq!(elsewhere.status, 200, "{}", elsewhere.body);
}

#[actix_web::test]
async fn the_chat_carries_on_through_a_burst_of_wrong_passwords() {
    // A limit above the burst, so every guess is hashed.
    let app = TestApp::spawn_with(&["--login-failures", "1000"]).await;
    let mut chat = Chat::open(&app).await;
    let guesses = join_all((0..100).map(|_| {
        app.call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "sam@example.com", "password": "wrong-password"})),
        )
    }));
    let conversation = async {
        let started = Instant::now();
        for n in 0..20 {
            chat.visitor
                .say(&chat.session_id, &format!("still there? {n}"))
                .await;
        }
        started.elapsed()
    };

    let (answers, talking) = join(guesses, conversation).await;

    assert!(
        answers.iter().all(|(status, _)| *status == 401),
        "every guess is refused: {:?}",
        answers.iter().map(|(status, _)| status).collect::<Vec<_>>()
    );
    assert!(
        talking < Duration::from_secs(5),
        "20 messages took {talking:?} during the burst"
    );
}
