//! The real `switchboard` binary as a child process, for what an in-process server cannot
//! show: `kill -9` in the middle of a burst, SIGTERM, restarts on the same database, a
//! database that goes away under a running server.
//!
//! A [`TestDatabase`] outlives the processes that run on it (restarting is starting a
//! new [`ServerProcess`] on the same database) and is dropped at the end of the test.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::{Connection, PgConnection, RunQueryDsl};
use serde_json::Value;
use switchboard::accounts::{self, SpecialistInput};
use switchboard::auth::TokenKeys;
use switchboard::db;
use switchboard::domain::{Role, VisitorId};

use super::ws::Server;
use super::{database_url, fresh_database, JWT_SECRET};

/// A migrated database of its own, dropped when the test ends.
pub struct TestDatabase {
    pub name: String,
}

impl TestDatabase {
    pub fn fresh() -> TestDatabase {
        TestDatabase {
            name: fresh_database(),
        }
    }

    pub fn connect(&self) -> PgConnection {
        PgConnection::establish(&database_url(&self.name)).expect("connect to the test database")
    }

    /// Simulates an outage: nobody can connect and every open connection is cut.
    pub fn go_down(&self) {
        on_server(&format!(
            "ALTER DATABASE {} ALLOW_CONNECTIONS false",
            self.name
        ));
        self.terminate_connections();
    }

    pub fn terminate_connections(&self) {
        on_server(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = '{}' AND pid <> pg_backend_pid()",
            self.name
        ));
    }

    pub fn come_back(&self) {
        on_server(&format!(
            "ALTER DATABASE {} ALLOW_CONNECTIONS true",
            self.name
        ));
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if std::env::var_os("SWITCHBOARD_KEEP_TEST_DATABASES").is_none() {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut server_connection());
        }
    }
}

fn server_connection() -> PgConnection {
    PgConnection::establish(&database_url("postgres")).expect("connect to the test Postgres server")
}

/// Runs an administrative statement through the `postgres` database.
fn on_server(statement: &str) {
    diesel::sql_query(statement)
        .execute(&mut server_connection())
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
}

/// The `switchboard` binary serving on a random port.
pub struct ServerProcess {
    child: Child,
    address: String,
    database: String,
    data_dir: PathBuf,
    /// Every line the server has logged so far.
    log: Arc<Mutex<Vec<String>>>,
}

/// How long the binary may take to migrate and bind.
const START_TIMEOUT: Duration = Duration::from_secs(60);

impl ServerProcess {
    /// Starts the binary on `database` with test settings plus `extra` flags, and waits
    /// until it listens.
    pub async fn start(database: &str, extra: &[&str]) -> ServerProcess {
        let url = database_url(database);
        let data_dir_path = std::env::temp_dir().join(format!(
            "switchboard-process-{}",
            uuid::Uuid::new_v4().simple()
        ));
        let data_dir = data_dir_path.to_string_lossy().into_owned();
        let defaults = [
            ("--database-url", url.as_str()),
            ("--bind", "127.0.0.1:0"),
            ("--jwt-secret", JWT_SECRET),
            ("--data-dir", data_dir.as_str()),
            ("--workers", "2"),
            ("--db-pool-size", "4"),
            ("--visitor-signups-per-minute", "1000"),
        ];
        let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
        for (flag, value) in defaults {
            if !extra.contains(&flag) {
                command.args([flag, value]);
            }
        }
        let mut child = command
            .args(extra)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the switchboard binary");
        let log = Arc::new(Mutex::new(Vec::new()));
        let port = listening_port(&mut child, log.clone()).await;
        ServerProcess {
            child,
            address: format!("http://127.0.0.1:{port}"),
            database: database.to_owned(),
            data_dir: data_dir_path,
            log,
        }
    }

    /// The first line the server logs with `needle` in it, waiting up to `timeout`.
    pub async fn log_line(&self, needle: &str, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let found = self
                .log
                .lock()
                .unwrap()
                .iter()
                .find(|line| line.contains(needle))
                .cloned();
            if found.is_some() || Instant::now() >= deadline {
                return found;
            }
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: the process gets no chance to flush or say goodbye.
    pub fn kill9(&mut self) {
        self.child.kill().expect("SIGKILL the server");
        self.child.wait().expect("reap the server");
    }

    /// SIGTERM: asks for a graceful shutdown and returns at once.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits for the process to exit; None if it is still running after `timeout`.
    pub async fn exited_within(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("poll the server process") {
                return Some(status);
            }
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    pub fn db(&self) -> PgConnection {
        PgConnection::establish(&database_url(&self.database))
            .expect("connect to the test database")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// People are made straight in the database, with tokens signed by the shared test
/// secret; the HTTP side of identities is tested in `identities.rs`.
impl Server for ServerProcess {
    fn address(&self) -> &str {
        &self.address
    }

    async fn new_specialist(&self, email: &str, profile: Value) -> (String, String) {
        let strings = |field: &str| {
            profile[field].as_array().map(|items| {
                items
                    .iter()
                    .map(|item| item.as_str().expect("a string").to_owned())
                    .collect::<Vec<_>>()
            })
        };
        let role = match profile["role"].as_str() {
            Some("admin") => Role::Admin,
            _ => Role::Specialist,
        };
        let new = accounts::new_specialist(SpecialistInput {
            email: email.into(),
            name: email.split('@').next().expect("split").into(),
            password: "specialist-pw".into(),
            role: Some(role),
            skills: strings("skills").unwrap_or_default(),
            languages: strings("languages"),
            max_concurrent_chats: profile["max_concurrent_chats"].as_i64().map(|n| n as i32),
        })
        .expect("a valid specialist");
        let row = accounts::insert_specialist(&mut self.db(), &new).expect("insert specialist");
        let token = TokenKeys::new(JWT_SECRET.as_bytes())
            .issue(row.id.0, role)
            .expect("sign a token");
        (row.id.to_string(), token)
    }

    async fn new_visitor(&self, name: &str) -> (String, String) {
        let row = db::visitors::insert(
            &mut self.db(),
            &db::visitors::NewVisitor {
                id: VisitorId::new(),
                external_id: None,
                name: Some(name.into()),
                email: None,
                phone: None,
            },
        )
        .expect("insert visitor");
        let token = TokenKeys::new(JWT_SECRET.as_bytes())
            .issue(row.id.0, Role::Visitor)
            .expect("sign a token");
        (row.id.to_string(), token)
    }
}

/// Reads the child's log until it says `listening on 127.0.0.1:PORT`, then keeps
/// draining it in a thread (a full pipe would block the server). The log goes to the
/// test's output, which the test harness shows when the test fails.
async fn listening_port(child: &mut Child, log: Arc<Mutex<Vec<String>>>) -> u16 {
    let stderr = child.stderr.take().expect("stderr is piped");
    let pid = child.id();
    let (port_tx, port_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            eprintln!("[switchboard {pid}] {line}");
            if let Some(port) = port_in(&line) {
                let _ = port_tx.send(port);
            }
            log.lock().unwrap().push(line);
        }
    });
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Ok(port) = port_rx.try_recv() {
            return port;
        }
        if let Some(status) = child.try_wait().expect("poll the server process") {
            panic!("switchboard exited before listening: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "switchboard did not listen within {START_TIMEOUT:?}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

fn port_in(line: &str) -> Option<u16> {
    let (_, address) = line.split_once("listening on ")?;
    let address = address.split_whitespace().next()?;
    address.rsplit(':').next()?.parse().ok()
}

// Looking into a database from a test.

/// Runs one SQL statement; returns the rows it changed.
pub fn execute(conn: &mut PgConnection, statement: &str) -> usize {
    diesel::sql_query(statement)
        .execute(conn)
        .unwrap_or_else(|e| panic!("{statement}: {e}"))
}

/// The value of a query returning one bigint, e.g. `SELECT count(*) FROM messages`.
pub fn query_i64(conn: &mut PgConnection, query: &str) -> i64 {
    diesel::select(diesel::dsl::sql::<BigInt>(&format!("({query})")))
        .get_result(conn)
        .unwrap_or_else(|e| panic!("{query}: {e}"))
}

/// The value of a query returning one text (NULL or no row: None).
pub fn query_text(conn: &mut PgConnection, query: &str) -> Option<String> {
    diesel::select(diesel::dsl::sql::<Nullable<Text>>(&format!("({query})")))
        .get_result(conn)
        .unwrap_or_else(|e| panic!("{query}: {e}"))
}

/// Polls `probe` every 100 ms until it yields a value; fails the test after `timeout`.
pub async fn eventually<T>(
    what: &str,
    timeout: Duration,
    mut probe: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {timeout:?}");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}
