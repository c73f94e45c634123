//! Every failure under `/api` is `{"error": {"code", "message"}}` with a matching status,
//! whether the handler or actix itself produced it.

mod common;

use common::TestApp;
use serde_json::Value;

fn assert_error(status: u16, body: &Value, expected_status: u16, code: &str) {
    assert_eq!(status, expected_status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

#[actix_web::test]
async fn every_api_error_is_json() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;

    let (status, body) = app.get("/api/v1/no-such-thing", &admin).await;
    assert_error(status, &body, 404, "not_found");
    let (status, body) = app.call("GET", "/api/v2/anything", None, None).await;
    assert_error(status, &body, 404, "not_found");
    let (status, body) = app.call("PUT", "/api/v1/visitors", None, None).await;
    assert_error(status, &body, 404, "not_found");
    let (status, body) = app
        .call(
            "PATCH",
            "/api/v1/specialists/not-a-uuid",
            Some(&admin),
            Some(serde_json::json!({})),
        )
        .await;
    assert_error(status, &body, 404, "not_found");

    let broken = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .insert_header(("content-type", "application/json"))
        .send_body("{\"email\": ")
        .await
        .unwrap();
    assert_eq!(broken.status().as_u16(), 400);

    let (status, body) = app
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(serde_json::json!({"email": 42})),
        )
        .await;
    assert_error(status, &body, 400, "bad_request");

    let huge = "x".repeat(300 * 1024);
    let (status, body) = app
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(serde_json::json!({"email": huge, "password": "p"})),
        )
        .await;
    assert_error(status, &body, 413, "too_large");
}

#[actix_web::test]
async fn a_broken_json_body_gets_a_json_400() {
    let app = TestApp::spawn().await;
    let mut response = app
        .client
        .post(app.url("/api/v1/visitors"))
        .insert_header(("content-type", "application/json"))
        .send_body("{not json")
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "bad_request");
}

#[actix_web::test]
async fn text_with_a_nul_byte_is_refused_not_an_internal_error() {
    let app = TestApp::spawn().await;
    let (status, body) = app
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(serde_json::json!({"email": "a\u{0}@example.com", "password": "whatever-pw"})),
        )
        .await;
    assert_error(status, &body, 401, "unauthorized");
}
