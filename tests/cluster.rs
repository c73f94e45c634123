//! Several nodes on one database and one NATS server (SPEC section 13): whoever is on
//! whichever node, a conversation works as on one node, and a node that dies, stops or
//! pauses loses nothing that was acknowledged.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::nats::{free_port, NatsServer};
use common::process::{query_i64, query_text, ServerProcess, TestDatabase};
use common::ws::{Chat, Server, WsClient};
use serde_json::json;

/// Short leases keep the failure tests short; the behaviour is the same at 10 s.
const LEASE_SECS: u64 = 3;

/// Nodes of one cluster, each a real `switchboard` process.
struct Nodes {
    nodes: Vec<ServerProcess>,
    database: TestDatabase,
    _nats: NatsServer,
}

impl Nodes {
    async fn start(count: usize) -> Nodes {
        let port = free_port();
        let nats = NatsServer::start(port);
        let database = TestDatabase::fresh();
        let mut nodes = Vec::new();
        for i in 1..=count {
            nodes.push(Self::node(&database, port, i).await);
        }
        Nodes {
            nodes,
            database,
            _nats: nats,
        }
    }

    async fn node(database: &TestDatabase, nats_port: u16, i: usize) -> ServerProcess {
        let url = format!("nats://127.0.0.1:{nats_port}");
        let name = format!("node-{i}");
        let lease = LEASE_SECS.to_string();
        let flags = [
            "--nats-url",
            url.as_str(),
            "--node-id",
            name.as_str(),
            "--lease-secs",
            lease.as_str(),
            "--auto-accept",
            "true",
            "--ws-rate-per-sec",
            "100000",
        ];
        ServerProcess::start(&database.name, &flags).await
    }
}

/// Sends until acknowledged, as a client does after its node went away: a resend with
/// the same `client_msg_id` is answered with the first ack, never stored twice.
async fn say_until_acked(
    nodes: &[&ServerProcess],
    token: &str,
    session: &str,
    body: &str,
    within: Duration,
) -> serde_json::Value {
    let client_msg_id = uuid::Uuid::new_v4().to_string();
    let deadline = Instant::now() + within;
    loop {
        for node in nodes {
            let Ok(mut client) = WsClient::try_connect(*node, Some(token)).await else {
                continue;
            };
            let answer = client
                .request_within(
                    json!({"type": "message.send", "session_id": session,
                           "client_msg_id": client_msg_id, "body": body}),
                    Duration::from_secs(LEASE_SECS + 5),
                )
                .await;
            if answer["type"] == "message.ack" {
                return answer["message"].clone();
            }
        }
        assert!(Instant::now() < deadline, "{body:?} was never acknowledged");
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    }
}

#[actix_web::test]
async fn a_visitor_and_a_specialist_on_different_nodes_talk_both_ways() {
    let nodes = Nodes::start(3).await;
    let [first, second, third] = &nodes.nodes[..] else {
        unreachable!()
    };
    let chat = Chat::open(first).await;
    let session = chat.session_id.as_str();
    let mut visitor = WsClient::connect(second, &chat.visitor_token).await;
    let mut specialist = WsClient::connect(third, &chat.specialist_token).await;

    let sent = visitor.say(session, "hello from the second node").await;
    let seen = specialist.recv_type("message.new").await;
    assert_eq!(seen["message"]["id"], sent["id"]);

    specialist.send(json!({"type": "typing", "session_id": session, "is_typing": true}));
    let typing = visitor.recv_type("typing").await;
    assert_eq!(typing["from"]["id"], chat.specialist_id.as_str());

    specialist.send(json!({"type": "read", "session_id": session, "seq": sent["seq"]}));
    let read = visitor.recv_type("read").await;
    assert_eq!(read["seq"], sent["seq"]);
    assert_eq!(read["by"]["id"], chat.specialist_id.as_str());

    let answer = specialist.say(session, "and back from the third").await;
    let heard = visitor.recv_type("message.new").await;
    assert_eq!(heard["message"]["id"], answer["id"]);
    assert_eq!(answer["seq"], sent["seq"].as_i64().unwrap() + 1);
    // The node that started the session serves it; the others sent it what they got.
    assert_eq!(metric(first, "switchboard_sessions_owned").await, 1.0);
    for node in [second, third] {
        assert_eq!(metric(node, "switchboard_sessions_owned").await, 0.0);
        assert!(metric(node, "switchboard_node_messages_sent_total").await > 0.0);
    }
}

#[actix_web::test]
async fn a_visitors_tabs_on_three_nodes_see_every_event() {
    let nodes = Nodes::start(3).await;
    let mut chat = Chat::open(&nodes.nodes[0]).await;
    let session = chat.session_id.clone();
    let mut tabs = Vec::new();
    for node in &nodes.nodes {
        tabs.push(WsClient::connect(node, &chat.visitor_token).await);
    }

    let from_specialist = chat.specialist.say(&session, "one").await;
    for tab in tabs.iter_mut() {
        let seen = tab.recv_type("message.new").await;
        assert_eq!(seen["message"]["id"], from_specialist["id"]);
    }
    chat.visitor.recv_type("message.new").await;
    let from_tab = tabs[2].say(&session, "two").await;
    for tab in tabs[..2].iter_mut() {
        let seen = tab.recv_type("message.new").await;
        assert_eq!(seen["message"]["id"], from_tab["id"]);
    }
    assert_eq!(
        chat.visitor.recv_type("message.new").await["message"]["id"],
        from_tab["id"]
    );
    tabs[2].expect_no("message.new", 300).await;
}

#[actix_web::test]
async fn the_owner_of_a_session_killed_mid_conversation_loses_nothing_acknowledged() {
    let mut nodes = Nodes::start(2).await;
    let chat = Chat::open(&nodes.nodes[0]).await;
    let session = chat.session_id.clone();
    let mut visitor = WsClient::connect(&nodes.nodes[1], &chat.visitor_token).await;
    let mut acked = Vec::new();
    for i in 0..20 {
        acked.push(visitor.say(&session, &format!("before {i}")).await);
    }

    nodes.nodes[0].kill9();
    let killed_at = Instant::now();
    let survivor = &nodes.nodes[1];
    let after = say_until_acked(
        &[survivor],
        &chat.visitor_token,
        &session,
        "after the kill",
        Duration::from_secs(LEASE_SECS + 10),
    )
    .await;
    let served_again = killed_at.elapsed();
    assert!(
        served_again < Duration::from_secs(LEASE_SECS + 5),
        "served again after {served_again:?}"
    );
    assert_eq!(
        after["seq"],
        acked.last().unwrap()["seq"].as_i64().unwrap() + 1
    );

    let mut db = nodes.database.connect();
    let stored = query_i64(
        &mut db,
        &format!("SELECT count(*) FROM messages WHERE session_id = '{session}'"),
    );
    assert_eq!(stored, 21, "every acknowledged message, each once");
    let mut specialist = WsClient::connect(survivor, &chat.specialist_token).await;
    let state = specialist
        .expect_reply(
            json!({"type": "session.resume", "session_id": session, "after_seq": 0}),
            "session.state",
        )
        .await;
    let seqs: Vec<i64> = state["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=21).collect::<Vec<_>>());
}

#[actix_web::test]
async fn a_node_paused_past_its_lease_cannot_commit_for_its_old_sessions() {
    let nodes = Nodes::start(2).await;
    let [paused, other] = &nodes.nodes[..] else {
        unreachable!()
    };
    let chat = Chat::open(paused).await;
    let session = chat.session_id.clone();
    let mut on_paused = WsClient::connect(paused, &chat.visitor_token).await;
    on_paused.say(&session, "before the pause").await;

    signal(paused, "-STOP");
    // The other node serves the session once the paused node's lease has run out;
    // reading it claims it without writing anything yet.
    let deadline = Instant::now() + Duration::from_secs(LEASE_SECS + 10);
    let mut on_other = WsClient::connect(other, &chat.visitor_token).await;
    loop {
        let state = on_other
            .request_within(
                json!({"type": "session.resume", "session_id": session, "after_seq": 0}),
                Duration::from_secs(LEASE_SECS + 5),
            )
            .await;
        if state["type"] == "session.state" {
            break;
        }
        assert!(Instant::now() < deadline, "never served again: {state}");
    }
    // The paused node wakes with its client's frame waiting: its old writer must not
    // store it (the new owner may, once it is forwarded there), or the next seq would
    // be taken twice and the new owner's next message refused.
    on_paused.send(json!({"type": "message.send", "session_id": session,
                          "client_msg_id": "stale", "body": "from the stale writer"}));
    signal(paused, "-CONT");
    assert_eq!(
        on_paused.closed().await,
        1012,
        "its clients are sent elsewhere"
    );
    let after = on_other.say(&session, "after it woke").await;

    let stored = |seq: &serde_json::Value| {
        query_text(
            &mut nodes.database.connect(),
            &format!(
                "SELECT id::text FROM messages WHERE session_id = '{session}' AND seq = {seq}"
            ),
        )
    };
    assert_eq!(stored(&after["seq"]).as_deref(), after["id"].as_str());
    for ack in on_paused.take_buffered() {
        if ack["type"] == "message.ack" {
            let message = &ack["message"];
            assert_eq!(
                stored(&message["seq"]).as_deref(),
                message["id"].as_str(),
                "{ack}"
            );
        }
    }
    let count = |condition: &str| {
        query_i64(
            &mut nodes.database.connect(),
            &format!("SELECT count({condition}) FROM messages WHERE session_id = '{session}'"),
        )
    };
    assert_eq!(count("DISTINCT seq"), count("*"), "no seq taken twice");
    let last = query_i64(
        &mut nodes.database.connect(),
        &format!("SELECT max(seq)::bigint FROM messages WHERE session_id = '{session}'"),
    );
    assert_eq!(count("*"), last, "no seq skipped");
}

#[actix_web::test]
async fn sigterm_hands_a_nodes_sessions_over_at_once() {
    let mut nodes = Nodes::start(2).await;
    let chat = Chat::open(&nodes.nodes[0]).await;
    let session = chat.session_id.clone();
    let mut visitor = WsClient::connect(&nodes.nodes[1], &chat.visitor_token).await;
    visitor.say(&session, "before the restart").await;

    nodes.nodes[0].terminate();
    assert!(nodes.nodes[0]
        .exited_within(Duration::from_secs(10))
        .await
        .is_some());
    let started = Instant::now();
    let after = visitor.say(&session, "during the rolling restart").await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "waited {:?} for the next owner",
        started.elapsed()
    );
    assert_eq!(after["seq"], 2);
}

/// A metric of `node` without labels, as `/metrics` shows it now.
async fn metric(node: &ServerProcess, name: &str) -> f64 {
    let url = format!("{}/metrics", node.address());
    let mut response = node
        .client()
        .get(url)
        .send()
        .await
        .expect("/metrics answers");
    let body = response.body().await.expect("the metrics");
    let text = String::from_utf8_lossy(&body);
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

fn signal(node: &ServerProcess, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &node.pid().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill {signal} failed");
}
