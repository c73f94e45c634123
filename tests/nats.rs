//! A node in a cluster (SPEC section 13) reaches the others through NATS: it is ready only
//! while NATS answers, comes back by itself when NATS does, and names itself in its
//! metrics. A node without NATS is unchanged (every other test).

mod common;

use std::time::{Duration, Instant};

use common::nats::{free_port, NatsServer};
use common::TestApp;

/// Polls `/readyz` until it answers `status`; panics after `within`.
async fn ready_becomes(app: &TestApp, status: u16, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let answer = app
            .client
            .get(app.url("/readyz"))
            .send()
            .await
            .expect("the server answers")
            .status()
            .as_u16();
        if answer == status {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz stayed {answer}, not {status}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

#[actix_web::test]
async fn a_node_is_ready_while_nats_answers_and_again_when_it_returns() {
    let port = free_port();
    let nats = NatsServer::start(port);
    let url = format!("nats://127.0.0.1:{port}");
    let app = TestApp::spawn_with(&["--nats-url", &url, "--node-id", "node-a"]).await;
    ready_becomes(&app, 200, Duration::from_secs(5)).await;
    let mut metrics = app.client.get(app.url("/metrics")).send().await.unwrap();
    let text = String::from_utf8(metrics.body().await.unwrap().to_vec()).unwrap();
    assert!(
        text.contains("switchboard_node_info{node_id=\"node-a\"} 1"),
        "{text}"
    );

    drop(nats);
    ready_becomes(&app, 503, Duration::from_secs(10)).await;

    let _nats = NatsServer::start(port);
    ready_becomes(&app, 200, Duration::from_secs(20)).await;
}

#[actix_web::test]
async fn a_node_starts_while_nats_is_down_and_is_ready_once_it_is_up() {
    let port = free_port();
    let app = TestApp::spawn_with(&["--nats-url", &format!("nats://127.0.0.1:{port}")]).await;
    ready_becomes(&app, 503, Duration::from_secs(5)).await;

    let _nats = NatsServer::start(port);
    ready_becomes(&app, 200, Duration::from_secs(20)).await;
}
