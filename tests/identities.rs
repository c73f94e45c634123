//! Identities and tokens (SPEC section 3): who gets in, who gets refused, and that the
//! refusals give nothing away.

mod common;

use common::{base64_url, TestApp, JWT_SECRET};
use serde_json::{json, Value};
use switchboard::auth::{Claims, TokenKeys};
use switchboard::domain::Role;

#[actix_web::test]
async fn a_visitor_signs_up_without_credentials_and_gets_a_token() {
    let app = TestApp::spawn().await;
    let (status, body) = app
        .call(
            "POST",
            "/api/v1/visitors",
            None,
            Some(json!({"name": "Vera", "email": "Vera@Example.com"})),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(body["visitor"]["name"], "Vera");
    assert_eq!(body["visitor"]["email"], "vera@example.com");
    let claims = TokenKeys::new(JWT_SECRET.as_bytes())
        .verify(body["token"].as_str().unwrap())
        .unwrap();
    assert_eq!(claims.role, Role::Visitor);
    assert_eq!(
        claims.sub.to_string(),
        body["visitor"]["id"].as_str().unwrap()
    );
}

#[actix_web::test]
async fn visitor_sign_ups_are_rate_limited_per_address() {
    let app = TestApp::spawn_with(&["--visitor-signups-per-minute", "3"]).await;
    for _ in 0..3 {
        let (status, _) = app
            .call("POST", "/api/v1/visitors", None, Some(json!({})))
            .await;
        assert_eq!(status, 201);
    }
    let (status, body) = app
        .call("POST", "/api/v1/visitors", None, Some(json!({})))
        .await;
    assert_eq!(status, 429);
    assert_eq!(body["error"]["code"], "rate_limited");
}

#[actix_web::test]
async fn a_specialist_logs_in_and_the_password_hash_never_leaves_the_server() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, token) = app
        .specialist(&admin, "sam@example.com", json!({"skills": ["billing"]}))
        .await;
    let (status, body) = app
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "SAM@example.com", "password": "specialist-pw"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["specialist"]["email"], "sam@example.com");
    assert_eq!(body["specialist"]["skills"], json!(["billing"]));
    assert_eq!(body["specialist"]["languages"], json!(["en"]));
    assert_eq!(body["specialist"]["max_concurrent_chats"], 3);
    assert!(!body.to_string().contains("argon2"));
    assert!(!token.is_empty());
}

#[actix_web::test]
async fn a_wrong_password_and_an_unknown_email_get_identical_answers() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    app.specialist(&admin, "sam@example.com", json!({})).await;
    let wrong_password = app
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "sam@example.com", "password": "not-the-password"})),
        )
        .await;
    let unknown_email = app
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "nobody@example.com", "password": "not-the-password"})),
        )
        .await;
    assert_eq!(wrong_password.0, 401);
    assert_eq!(wrong_password, unknown_email);
    assert_eq!(wrong_password.1["error"]["code"], "unauthorized");
}

fn sign(claims: &Claims, secret: &[u8]) -> String {
    TokenKeys::new(secret).encode(claims).unwrap()
}

#[actix_web::test]
async fn expired_forged_and_unsigned_tokens_get_401() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let admin_id = TokenKeys::new(JWT_SECRET.as_bytes())
        .verify(&admin)
        .unwrap()
        .sub;
    let now = chrono::Utc::now().timestamp();
    let claims = |iat: i64, exp: i64| Claims {
        sub: admin_id,
        role: Role::Admin,
        iat,
        exp,
    };

    let expired = sign(&claims(now - 7200, now - 3600), JWT_SECRET.as_bytes());
    let forged = sign(&claims(now, now + 3600), b"somebody else's secret");
    let payload = serde_json::to_vec(&claims(now, now + 3600)).unwrap();
    let unsigned = format!(
        "{}.{}.",
        base64_url(br#"{"alg":"none","typ":"JWT"}"#),
        base64_url(&payload)
    );
    let tampered = {
        let valid = sign(&claims(now, now + 3600), JWT_SECRET.as_bytes());
        let parts: Vec<&str> = valid.split('.').collect();
        let mut other = claims(now, now + 3600);
        other.role = Role::Admin;
        other.sub = uuid::Uuid::new_v4();
        format!(
            "{}.{}.{}",
            parts[0],
            base64_url(&serde_json::to_vec(&other).unwrap()),
            parts[2]
        )
    };

    let (status, _) = app.get("/api/v1/specialists", &admin).await;
    assert_eq!(status, 200, "the genuine token works");
    for (what, token) in [
        ("expired", expired),
        ("forged", forged),
        ("alg none", unsigned),
        ("tampered", tampered),
        ("garbage", "not.a.token".into()),
    ] {
        let (status, body) = app.get("/api/v1/specialists", &token).await;
        assert_eq!(status, 401, "{what} token");
        assert_eq!(body["error"]["code"], "unauthorized", "{what} token");
    }
    let (status, body) = app.call("GET", "/api/v1/specialists", None, None).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (401, &Value::from("unauthorized"))
    );
}

#[actix_web::test]
async fn a_revoked_bot_is_refused_at_once() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (bot_id, bot) = app.bot(&admin, "Helper bot").await;
    // A live bot is authenticated but not an admin: 403, not 401.
    assert_eq!(app.get("/api/v1/bots", &bot).await.0, 403);
    let (status, _) = app
        .call(
            "DELETE",
            &format!("/api/v1/bots/{bot_id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, body) = app.get("/api/v1/bots", &bot).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "unauthorized");
    let (_, listed) = app.get("/api/v1/bots", &admin).await;
    assert_eq!(listed["bots"][0]["revoked"], true);
}

#[actix_web::test]
async fn a_disabled_specialist_is_refused_and_cannot_log_in() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (id, token) = app.specialist(&admin, "sam@example.com", json!({})).await;
    assert_eq!(app.get("/api/v1/specialists", &token).await.0, 403);
    let (status, body) = app
        .call(
            "PATCH",
            &format!("/api/v1/specialists/{id}"),
            Some(&admin),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["specialist"]["disabled"], true);
    assert_eq!(app.get("/api/v1/specialists", &token).await.0, 401);
    let (status, _) = app
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "sam@example.com", "password": "specialist-pw"})),
        )
        .await;
    assert_eq!(status, 401);
}

#[actix_web::test]
async fn visitors_specialists_and_bots_get_403_on_admin_calls() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (specialist_id, specialist) = app.specialist(&admin, "sam@example.com", json!({})).await;
    let (_, visitor) = app.visitor("Vera").await;
    let (bot_id, bot) = app.bot(&admin, "bot").await;
    let calls: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", "/api/v1/specialists".into(), None),
        (
            "POST",
            "/api/v1/specialists".into(),
            Some(json!({"email": "x@example.com", "name": "X", "password": "long-enough"})),
        ),
        (
            "PATCH",
            format!("/api/v1/specialists/{specialist_id}"),
            Some(json!({"role": "admin"})),
        ),
        ("GET", "/api/v1/bots".into(), None),
        (
            "POST",
            "/api/v1/bots".into(),
            Some(json!({"name": "rogue"})),
        ),
        ("DELETE", format!("/api/v1/bots/{bot_id}"), None),
    ];
    for token in [&visitor, &specialist, &bot] {
        for (method, path, body) in &calls {
            let (status, answer) = app.call(method, path, Some(token), body.clone()).await;
            assert_eq!(status, 403, "{method} {path}: {answer}");
            assert_eq!(answer["error"]["code"], "forbidden");
        }
    }
}

#[actix_web::test]
async fn admins_manage_specialists_with_validation() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (id, _) = app
        .specialist(
            &admin,
            "sam@example.com",
            json!({"languages": ["en", "de"]}),
        )
        .await;
    let (status, body) = app
        .call(
            "PATCH",
            &format!("/api/v1/specialists/{id}"),
            Some(&admin),
            Some(json!({"skills": ["Billing", "tier-2"], "max_concurrent_chats": 5})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["specialist"]["skills"], json!(["billing", "tier-2"]));
    assert_eq!(body["specialist"]["max_concurrent_chats"], 5);
    assert_eq!(body["specialist"]["languages"], json!(["en", "de"]));

    let duplicate = app
        .post(
            "/api/v1/specialists",
            &admin,
            json!({"email": "SAM@example.com", "name": "Sam", "password": "long-enough"}),
        )
        .await;
    assert_eq!(duplicate.0, 409);
    for bad in [
        json!({"email": "not-an-email", "name": "X", "password": "long-enough"}),
        json!({"email": "x@example.com", "name": "X", "password": "short"}),
        json!({"email": "x@example.com", "name": "X", "password": "long-enough", "role": "bot"}),
        json!({"email": "x@example.com", "name": "X", "password": "long-enough", "max_concurrent_chats": 0}),
        json!({"email": "x@example.com", "name": "X", "password": "long-enough", "skills": ["has space"]}),
        json!({"email": "x@example.com", "name": "X", "password": "long-enough", "surprise": 1}),
    ] {
        let (status, answer) = app.post("/api/v1/specialists", &admin, bad.clone()).await;
        assert_eq!(status, 400, "{bad} → {answer}");
        assert_eq!(answer["error"]["code"], "bad_request");
    }
    let (_, listed) = app.get("/api/v1/specialists", &admin).await;
    assert_eq!(listed["specialists"].as_array().unwrap().len(), 2);
}
