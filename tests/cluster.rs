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
    nats: Option<NatsServer>,
    nats_port: u16,
}

impl Nodes {
    /// Nodes that assign chats at once, as with `--auto-accept true`.
    async fn start(count: usize) -> Nodes {
        Self::start_with(count, &["--auto-accept", "true"]).await
    }

    /// Nodes that offer chats, which specialists accept or decline.
    async fn offering(count: usize) -> Nodes {
        Self::start_with(count, &["--auto-accept", "false"]).await
    }

    async fn start_with(count: usize, extra: &[&str]) -> Nodes {
        let port = free_port();
        let nats = NatsServer::start(port);
        let database = TestDatabase::fresh();
        let mut nodes = Vec::new();
        for i in 1..=count {
            nodes.push(Self::node(&database, port, i, extra).await);
        }
        Nodes {
            nodes,
            database,
            nats: Some(nats),
            nats_port: port,
        }
    }

    fn stop_nats(&mut self) {
        self.nats = None;
    }

    fn start_nats(&mut self) {
        self.nats = Some(NatsServer::start(self.nats_port));
    }

    async fn node(
        database: &TestDatabase,
        nats_port: u16,
        i: usize,
        extra: &[&str],
    ) -> ServerProcess {
        let url = format!("nats://127.0.0.1:{nats_port}");
        let name = format!("node-{i}");
        let lease = LEASE_SECS.to_string();
        let mut flags = vec![
            "--nats-url",
            url.as_str(),
            "--node-id",
            name.as_str(),
            "--lease-secs",
            lease.as_str(),
            "--ws-rate-per-sec",
            "100000",
        ];
        flags.extend_from_slice(extra);
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
    let mut nodes = Nodes::start(3).await;
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
        &[survivor, &nodes.nodes[2]],
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
    let nodes = Nodes::start(3).await;
    let [paused, other, _] = &nodes.nodes[..] else {
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
async fn sigterm_hands_a_nodes_sessions_and_the_dispatcher_over_at_once() {
    let mut nodes = Nodes::start(3).await;
    let leader = dispatcher_node(&nodes).await;
    let other = (leader + 1) % 3;
    let chat = Chat::open(&nodes.nodes[leader]).await;
    let session = chat.session_id.clone();
    let mut visitor = WsClient::connect(&nodes.nodes[other], &chat.visitor_token).await;
    visitor.say(&session, "before the restart").await;

    nodes.nodes[leader].terminate();
    assert!(nodes.nodes[leader]
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
    // The lease is 3 s: taking the role sooner means it was handed over.
    let survivors: Vec<&ServerProcess> = (0..3)
        .filter(|i| *i != leader)
        .map(|i| &nodes.nodes[i])
        .collect();
    loop {
        let mut running = 0.0;
        for node in &survivors {
            running += metric(node, "switchboard_dispatcher_running").await;
        }
        if running == 1.0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "the dispatcher moved late"
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

#[actix_web::test]
async fn queue_order_capacity_and_one_offer_at_a_time_hold_across_nodes() {
    let nodes = Nodes::offering(3).await;
    let [first, second, third] = &nodes.nodes[..] else {
        unreachable!()
    };
    let profile = json!({"max_concurrent_chats": 1});
    let (_, token) = third.new_specialist("one@example.com", profile).await;
    let mut console = WsClient::connect(third, &token).await;
    console.go_online().await;
    let mut other_console = WsClient::connect(first, &token).await;

    let (_, earlier) = first.new_visitor("Ann").await;
    let mut ann = WsClient::connect(first, &earlier).await;
    let ann_session = ann.start_session(json!({})).await["id"].clone();
    let offer = console.recv_type("offer").await;
    assert_eq!(offer["session"]["id"], ann_session);
    let (_, later) = second.new_visitor("Ben").await;
    let mut ben = WsClient::connect(second, &later).await;
    let ben_session = ben.start_session(json!({})).await["id"].clone();
    let position = ben.recv_type("queue.update").await;
    assert_eq!(
        position["position"], 2,
        "behind Ann, whose session is offered"
    );
    // The specialist's console on another node sees the same one offer.
    assert_eq!(
        other_console.recv_type("offer").await["offer_id"],
        offer["offer_id"]
    );
    console.expect_no("offer", 500).await;

    console.accept(&offer).await;
    ann.recv_type("session.assigned").await;
    // At capacity: Ben waits, on whichever node the dispatcher runs.
    console.expect_no("offer", 1000).await;
    let mut db = first.db();
    let active = |db: &mut _| {
        query_i64(
            db,
            "SELECT count(*) FROM chat_sessions WHERE status = 'active'",
        )
    };
    assert_eq!(active(&mut db), 1);

    console.end_session(ann_session.as_str().unwrap()).await;
    let next = console.recv_type("offer").await;
    assert_eq!(next["session"]["id"], ben_session);
    other_console.accept(&next).await;
    ben.recv_type("session.assigned").await;
    assert_eq!(active(&mut db), 1);
    let mut running = 0.0;
    for node in [first, second, third] {
        running += metric(node, "switchboard_dispatcher_running").await;
    }
    assert_eq!(running, 1.0, "one dispatcher in the cluster");
}

#[actix_web::test]
async fn the_queue_carries_on_when_the_dispatchers_node_is_killed() {
    let mut nodes = Nodes::offering(3).await;
    let leader = dispatcher_node(&nodes).await;
    let others: Vec<usize> = (0..3).filter(|i| *i != leader).collect();
    let (a, b) = (&nodes.nodes[others[0]], &nodes.nodes[others[1]]);
    let (_, token) = a.new_specialist("sam@example.com", json!({})).await;
    let mut console = WsClient::connect(a, &token).await;
    console.go_online().await;
    let (_, before) = b.new_visitor("Ann").await;
    let mut ann = WsClient::connect(b, &before).await;
    ann.start_session(json!({})).await;
    console.accept_next_offer().await;
    ann.recv_type("session.assigned").await;

    nodes.nodes[leader].kill9();
    let killed = Instant::now();
    let (b, a) = (&nodes.nodes[others[1]], &nodes.nodes[others[0]]);
    let (_, after) = b.new_visitor("Ben").await;
    let mut ben = WsClient::connect(b, &after).await;
    let started = ben
        .request_within(
            json!({"type": "session.start"}),
            Duration::from_secs(LEASE_SECS + 10),
        )
        .await;
    assert_eq!(started["type"], "session.started", "{started}");
    let offer = console
        .recv_type_within("offer", Duration::from_secs(LEASE_SECS + 10))
        .await;
    assert_eq!(offer["session"]["id"], started["session"]["id"]);
    console.accept(&offer).await;
    ben.recv_type("session.assigned").await;
    assert!(killed.elapsed() < Duration::from_secs(LEASE_SECS + 10));
    let now_running = metric(a, "switchboard_dispatcher_running").await
        + metric(b, "switchboard_dispatcher_running").await;
    assert_eq!(now_running, 1.0);
}

#[actix_web::test]
async fn nats_restarted_mid_conversation_loses_nothing() {
    let mut nodes = Nodes::start(3).await;
    let mut chat = Chat::open(&nodes.nodes[0]).await;
    let session = chat.session_id.clone();
    let mut tab = WsClient::connect(&nodes.nodes[1], &chat.visitor_token).await;
    let before = chat.specialist.say(&session, "before").await;
    assert_eq!(
        tab.recv_type("message.new").await["message"]["id"],
        before["id"]
    );

    nodes.stop_nats();
    let mut said = Vec::new();
    for body in ["while", "NATS", "was", "away"] {
        said.push(chat.specialist.say(&session, body).await["seq"].clone());
    }
    nodes.start_nats();
    // Nothing more is said yet: the node reads what it missed when it reconnects.
    for seq in said {
        let seen = tab
            .recv_type_within("message.new", Duration::from_secs(10))
            .await;
        assert_eq!(seen["message"]["seq"], seq, "every message, in order");
    }
    let after = say_until_acked(
        &[&nodes.nodes[0]],
        &chat.specialist_token,
        &session,
        "after",
        Duration::from_secs(10),
    )
    .await;
    let seen = tab
        .recv_type_within("message.new", Duration::from_secs(10))
        .await;
    assert_eq!(
        seen["message"]["seq"], after["seq"],
        "every message, in order"
    );
    tab.expect_no("message.new", 500).await;
}

#[actix_web::test]
async fn a_message_scheduled_on_a_node_that_dies_is_sent_by_another() {
    let mut nodes = Nodes::start(3).await;
    let leader = dispatcher_node(&nodes).await;
    let other = (leader + 1) % 3;
    let mut chat = Chat::open(&nodes.nodes[other]).await;
    let session = chat.session_id.clone();
    let mut tab = WsClient::connect(&nodes.nodes[leader], &chat.visitor_token).await;
    // The specialist stays online through a console on the node that lives.
    let _console = WsClient::connect(&nodes.nodes[leader], &chat.specialist_token).await;
    let send_at = chrono::Utc::now() + chrono::TimeDelta::seconds(2);
    chat.specialist
        .expect_reply(
            json!({"type": "message.send", "session_id": session,
                   "client_msg_id": "later", "body": "sent by whoever is left",
                   "send_at": send_at.to_rfc3339()}),
            "message.scheduled",
        )
        .await;

    nodes.nodes[other].kill9();
    let sent = tab
        .recv_type_within("message.new", Duration::from_secs(LEASE_SECS + 15))
        .await;
    assert_eq!(sent["message"]["body"], "sent by whoever is left");
    tab.expect_no("message.new", 1000).await;
}

#[actix_web::test]
async fn limits_per_address_and_per_account_count_every_nodes_requests() {
    let limits = ["--visitor-signups-per-minute", "3", "--login-failures", "3"];
    let nodes = Nodes::start_with(2, &limits).await;
    let [first, second] = &nodes.nodes[..] else {
        unreachable!()
    };
    let signup = |node: &ServerProcess| {
        let url = format!("{}/api/v1/visitors", node.address());
        let request = node.client().post(url).send();
        async move { request.await.expect("POST /visitors").status().as_u16() }
    };
    assert_eq!(signup(first).await, 201);
    assert_eq!(signup(second).await, 201);
    assert_eq!(signup(first).await, 201);
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        signup(second).await,
        429,
        "the second node counts the first's"
    );

    first.new_specialist("sam@example.com", json!({})).await;
    let login = |node: &ServerProcess, password: &str| {
        let url = format!("{}/api/v1/auth/login", node.address());
        let body = json!({"email": "sam@example.com", "password": password});
        let request = node.client().post(url).send_json(&body);
        async move { request.await.expect("POST /auth/login").status().as_u16() }
    };
    assert_eq!(login(first, "wrong").await, 401);
    assert_eq!(login(second, "wrong").await, 401);
    assert_eq!(login(first, "wrong").await, 401);
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        login(second, "specialist-pw").await,
        429,
        "three failures anywhere"
    );
}

/// The index of the node running the dispatcher (and the once-per-cluster work).
async fn dispatcher_node(nodes: &Nodes) -> usize {
    for (i, node) in nodes.nodes.iter().enumerate() {
        if metric(node, "switchboard_dispatcher_running").await == 1.0 {
            return i;
        }
    }
    panic!("no node runs the dispatcher");
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
