//! Behind a reverse proxy (SPEC section 11): the server runs behind a real nginx that
//! terminates TLS, configured with the very block README.md's "Deploying" section gives
//! operators, and trusts it (`--trusted-proxies 127.0.0.1`, the address nginx connects
//! from). Chats work through it, `ws_url` is the public `wss://` address, and limits
//! count each client behind it; forwarding headers from any other peer are ignored.
//!
//! Test clients connect from other loopback addresses (127.0.0.3, 127.0.0.4), so through
//! nginx they are distinct clients the server was never told to trust, as visitors on the
//! internet are. nginx must be installed (`scripts/test.sh` installs Debian's package).

mod common;

use std::net::{IpAddr, Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use awc::Client;
use common::ws::{Chat, Server, WsClient};
use common::TestApp;
use serde_json::{json, Value};

/// The address nginx connects to the server from, and the one proxy the server trusts.
const NGINX_PEER: &str = "127.0.0.1";
const ALICE: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));
const BOB: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 4));

#[actix_web::test]
async fn a_visitor_and_a_specialist_chat_through_nginx_over_tls() {
    let app = TestApp::spawn_with(&["--trusted-proxies", NGINX_PEER]).await;
    let nginx = Nginx::start(&app).await;
    let public = nginx.public(&app, ALICE);

    let mut chat = Chat::open(&public).await;
    let question = chat
        .visitor
        .say(&chat.session_id, "Where is my parcel?")
        .await;
    let delivered = chat.specialist.recv_type("message.new").await;
    assert_eq!(delivered["message"]["id"], question["id"]);
    let answer = chat.specialist.say(&chat.session_id, "On its way.").await;
    let delivered = chat.visitor.recv_type("message.new").await;
    assert_eq!(delivered["message"]["id"], answer["id"]);
    assert_eq!(delivered["message"]["body"], "On its way.");
}

#[actix_web::test]
async fn a_handoff_through_nginx_hands_out_the_public_wss_url() {
    let app = TestApp::spawn_with(&["--trusted-proxies", NGINX_PEER]).await;
    let nginx = Nginx::start(&app).await;
    let admin = app.admin_token().await;
    let (_, bot) = app.bot(&admin, "Intake bot").await;
    let public = nginx.public(&app, ALICE);

    // What a client writes itself does not get past nginx: it replaces X-Forwarded-Proto
    // and -Host, and the server ignores `Forwarded` next to X-Forwarded-For.
    let forged = [
        ("X-Forwarded-Proto", "http"),
        ("X-Forwarded-Host", "evil.example"),
        ("Forwarded", "for=198.51.100.1;proto=http;host=evil.example"),
    ];
    let (status, created) = post(
        &public.client,
        &format!("{}/api/v1/sessions", public.address),
        Some(&bot),
        &forged,
        json!({"visitor": {"name": "Vera"}}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        created["ws_url"],
        format!("wss://127.0.0.1:{}/ws", nginx.port)
    );

    let visitor = WsClient::connect(&public, created["visitor_token"].as_str().unwrap()).await;
    assert_eq!(visitor.hello["sessions"][0]["id"], created["session"]["id"]);
}

#[actix_web::test]
async fn each_client_behind_nginx_has_its_own_signup_allowance() {
    let app = TestApp::spawn_with(&[
        "--trusted-proxies",
        NGINX_PEER,
        "--visitor-signups-per-minute",
        "2",
    ])
    .await;
    let nginx = Nginx::start(&app).await;
    let alice = nginx.public(&app, ALICE);
    let bob = nginx.public(&app, BOB);

    assert_eq!(sign_up(&alice, &[]).await, 201);
    // nginx adds the address it saw after whatever Alice claims, and that one counts.
    assert_eq!(
        sign_up(&alice, &[("X-Forwarded-For", "198.51.100.7")]).await,
        201
    );
    assert_eq!(
        sign_up(&alice, &[("X-Forwarded-For", "198.51.100.8")]).await,
        429,
        "a made-up address is no new allowance"
    );
    assert_eq!(
        sign_up(&bob, &[]).await,
        201,
        "another client behind the same proxy is not refused for Alice's sign-ups"
    );
}

#[actix_web::test]
async fn failed_logins_are_counted_per_client_behind_nginx() {
    let app =
        TestApp::spawn_with(&["--trusted-proxies", NGINX_PEER, "--login-failures", "2"]).await;
    let nginx = Nginx::start(&app).await;
    let alice = nginx.public(&app, ALICE);
    let bob = nginx.public(&app, BOB);

    // Different accounts each time: only the address's count can refuse.
    assert_eq!(log_in(&alice, "a@example.com").await, 401);
    assert_eq!(log_in(&alice, "b@example.com").await, 401);
    assert_eq!(log_in(&alice, "c@example.com").await, 429);
    assert_eq!(log_in(&bob, "d@example.com").await, 401);
}

#[actix_web::test]
async fn forwarding_headers_from_a_peer_that_is_not_a_trusted_proxy_are_ignored() {
    let app = TestApp::spawn_with(&[
        "--trusted-proxies",
        NGINX_PEER,
        "--visitor-signups-per-minute",
        "2",
    ])
    .await;
    let admin = app.admin_token().await;
    let (_, bot) = app.bot(&admin, "Intake bot").await;
    // Alice reaches the server directly, from an address the setting does not list.
    let alice = Public {
        app: &app,
        address: app.address.clone(),
        client: client_from(ALICE, None),
    };

    for (n, expected) in [(1, 201), (2, 201), (3, 429)] {
        let claimed = format!("198.51.100.{n}");
        let forwarded = format!("for={claimed}");
        let headers = [
            ("X-Forwarded-For", claimed.as_str()),
            ("Forwarded", forwarded.as_str()),
        ];
        assert_eq!(sign_up(&alice, &headers).await, expected, "sign-up {n}");
    }

    let (status, created) = post(
        &alice.client,
        &app.url("/api/v1/sessions"),
        Some(&bot),
        &[
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "evil.example"),
            ("Forwarded", "proto=https;host=evil.example"),
        ],
        json!({"visitor": {"name": "Vera"}}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let own = app.address.replacen("http://", "ws://", 1);
    assert_eq!(created["ws_url"], format!("{own}/ws"));
}

/// nginx in front of a test server, on `https://127.0.0.1:<port>`, with the README's
/// block and a certificate for 127.0.0.1 from a CA made for the test.
struct Nginx {
    process: Child,
    dir: PathBuf,
    port: u16,
    tls: Arc<rustls::ClientConfig>,
}

impl Nginx {
    async fn start(upstream: &TestApp) -> Nginx {
        let dir = std::env::temp_dir().join(common::unique_name("switchboard-nginx"));
        std::fs::create_dir_all(&dir).expect("create nginx's directory");
        let tls = write_certificate(&dir);
        let port = free_port();
        let config = nginx_config(&dir, port, &upstream.address);
        std::fs::write(dir.join("nginx.conf"), config).expect("write nginx.conf");
        let process = Command::new(nginx_binary())
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .arg("-e")
            .arg(dir.join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx");
        let mut nginx = Nginx {
            process,
            dir,
            port,
            tls,
        };
        nginx.wait_until_listening().await;
        nginx
    }

    async fn wait_until_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            let exited = self.process.try_wait().expect("look at nginx's process");
            if exited.is_some() || Instant::now() > deadline {
                let log = std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default();
                panic!("nginx did not start ({exited:?}); its error log:\n{log}");
            }
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The server as a client at `local` reaches it through nginx.
    fn public<'a>(&self, app: &'a TestApp, local: IpAddr) -> Public<'a> {
        Public {
            app,
            address: format!("https://127.0.0.1:{}", self.port),
            client: client_from(local, Some(self.tls.clone())),
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// nginx's configuration: the README's block inside the few main-level settings a
/// private, unprivileged instance needs (no daemon, everything under `dir`).
fn nginx_config(dir: &Path, port: u16, upstream: &str) -> String {
    let dir = dir.display();
    let mut block = readme_nginx_block();
    for (from, to) in [
        ("listen 443 ssl;", format!("listen 127.0.0.1:{port} ssl;")),
        (
            "/etc/ssl/certs/chat.example.com.pem",
            format!("{dir}/cert.pem"),
        ),
        (
            "/etc/ssl/private/chat.example.com.key",
            format!("{dir}/key.pem"),
        ),
        ("http://127.0.0.1:8080", upstream.to_owned()),
    ] {
        assert_eq!(
            block.matches(from).count(),
            1,
            "README.md's nginx block should contain `{from}` once"
        );
        block = block.replacen(from, &to, 1);
    }
    format!(
        "daemon off;\n\
         master_process off;\n\
         pid {dir}/nginx.pid;\n\
         error_log {dir}/error.log;\n\
         events {{}}\n\
         http {{\n\
         access_log {dir}/access.log;\n\
         client_body_temp_path {dir}/client_body;\n\
         proxy_temp_path {dir}/proxy;\n\
         fastcgi_temp_path {dir}/fastcgi;\n\
         uwsgi_temp_path {dir}/uwsgi;\n\
         scgi_temp_path {dir}/scgi;\n\
         {block}\n\
         }}\n"
    )
}

/// The nginx block of README.md's "Deploying" section, the one operators copy.
fn readme_nginx_block() -> String {
    let readme = include_str!("../README.md");
    let deploying = readme
        .find("## Deploying")
        .map(|at| &readme[at..])
        .expect("README.md has a Deploying section");
    let fence = "```nginx\n";
    let start = deploying
        .find(fence)
        .expect("an nginx block under Deploying")
        + fence.len();
    let length = deploying[start..]
        .find("```")
        .expect("the nginx block ends");
    deploying[start..start + length].to_owned()
}

fn nginx_binary() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|dir| dir.join("nginx"))
        .find(|candidate| candidate.is_file())
        .expect("nginx is not installed: install Debian's `nginx` package (scripts/test.sh does)")
}

/// Writes nginx's certificate and key for 127.0.0.1 into `dir`; returns a client
/// configuration trusting the CA that issued it.
fn write_certificate(dir: &Path) -> Arc<rustls::ClientConfig> {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "Switchboard proxy test CA");
    let ca = ca.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let certificate = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    std::fs::write(dir.join("cert.pem"), certificate.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();

    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.der().clone()).unwrap();
    let mut config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().unwrap().port()
}

/// An HTTP client whose connections come from `local`, trusting `tls` for https.
fn client_from(local: IpAddr, tls: Option<Arc<rustls::ClientConfig>>) -> Client {
    let mut connector = awc::Connector::new();
    if let Some(tls) = tls {
        connector = connector.rustls_0_23(tls);
    }
    Client::builder()
        .connector(connector)
        .local_address(local)
        .timeout(Duration::from_secs(30))
        .finish()
}

/// The test server as one client reaches it: through nginx, or directly.
struct Public<'a> {
    app: &'a TestApp,
    address: String,
    client: Client,
}

impl Server for Public<'_> {
    fn address(&self) -> &str {
        &self.address
    }

    fn client(&self) -> Client {
        self.client.clone()
    }

    async fn new_specialist(&self, email: &str, profile: Value) -> (String, String) {
        self.app.new_specialist(email, profile).await
    }

    async fn new_visitor(&self, name: &str) -> (String, String) {
        let url = format!("{}/api/v1/visitors", self.address);
        let (status, body) = post(&self.client, &url, None, &[], json!({"name": name})).await;
        assert_eq!(status, 201, "sign up: {body}");
        (
            body["visitor"]["id"].as_str().unwrap().to_owned(),
            body["token"].as_str().unwrap().to_owned(),
        )
    }
}

/// `POST /api/v1/visitors` with these extra headers; the status.
async fn sign_up(server: &Public<'_>, headers: &[(&str, &str)]) -> u16 {
    let url = format!("{}/api/v1/visitors", server.address);
    post(&server.client, &url, None, headers, json!({})).await.0
}

/// A login with a wrong password; the status.
async fn log_in(server: &Public<'_>, email: &str) -> u16 {
    let url = format!("{}/api/v1/auth/login", server.address);
    let body = json!({"email": email, "password": "not the password"});
    post(&server.client, &url, None, &[], body).await.0
}

async fn post(
    client: &Client,
    url: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Value,
) -> (u16, Value) {
    let mut request = client.post(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    for (name, value) in headers {
        request = request.insert_header((*name, *value));
    }
    let mut response = request
        .send_json(&body)
        .await
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    let status = response.status().as_u16();
    let body = response.json::<Value>().await.unwrap_or(Value::Null);
    (status, body)
}
