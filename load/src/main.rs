//! `switchboard-load`: drives a running Switchboard server the way browsers, consoles and
//! bots do, over the public protocol only, and reports throughput, latencies and the
//! server's memory. `scripts/bench.sh` runs the standard scenarios with it.

mod chat;
mod hostile;
mod http;
mod idle;
mod queue;
mod raw;
mod search;
mod setup;
mod stats;
mod ws;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

pub type Error = Box<dyn std::error::Error + Send + Sync>;
pub type Result<T> = std::result::Result<T, Error>;

#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// The server's address (a cluster's balancer, or one of its nodes).
    #[arg(long, default_value = "127.0.0.1:8080")]
    server: SocketAddr,
    /// Nodes the chat's visitors connect to, in turn (default: `--server`): with
    /// `--console-servers`, a cluster's conversations can have their two sides on
    /// different nodes.
    #[arg(long, value_delimiter = ',')]
    visitor_servers: Vec<SocketAddr>,
    /// Nodes the chat's consoles connect to, in turn (default: `--server`).
    #[arg(long, value_delimiter = ',')]
    console_servers: Vec<SocketAddr>,
    /// The scenario's name in the results (default: the scenario's own).
    #[arg(long)]
    label: Option<String>,
    /// An admin account (see `switchboard create-admin`), used to create specialists.
    #[arg(long, default_value = "bench@example.com")]
    admin_email: String,
    #[arg(long, default_value = "bench-password")]
    admin_password: String,
    /// The server's process id, to report its memory from /proc.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Append the results as one JSON line to this file.
    #[arg(long)]
    json_out: Option<PathBuf>,
    /// Client runtime threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// Conversations that send at a fixed aggregate rate, or flat out.
    Chat {
        #[arg(long, default_value_t = 1000)]
        conversations: usize,
        /// Chats per specialist (`max_concurrent_chats`, at most 100).
        #[arg(long, default_value_t = 100)]
        capacity: usize,
        /// Messages per second over all conversations; without it, flat out.
        #[arg(long)]
        rate: Option<f64>,
        /// Unacknowledged messages per conversation when flat out.
        #[arg(long, default_value_t = 4)]
        window: usize,
        #[arg(long, default_value_t = 5)]
        warmup_secs: u64,
        #[arg(long, default_value_t = 20)]
        duration_secs: u64,
        /// How fast each console accepts its offers.
        #[arg(long, default_value_t = 10.0)]
        accepts_per_sec: f64,
        /// Visitors whose socket closes reconnect through `--server` and send their
        /// unacknowledged messages again (for killing a node mid-run).
        #[arg(long)]
        reconnect: bool,
        /// Write `session_id,client_msg_id` of every acknowledged message here.
        #[arg(long)]
        acked_out: Option<PathBuf>,
        /// Kill this process (a node) with SIGKILL `--kill-after-secs` into sending.
        #[arg(long, requires = "kill_after_secs")]
        kill_pid: Option<u32>,
        #[arg(long)]
        kill_after_secs: Option<f64>,
    },
    /// Chat at a fixed rate while a login flood, sockets that never read and a stream
    /// of invalid frames run for the whole measured window (SPEC sections 9 and 12).
    Hostile {
        #[arg(long, default_value_t = 1000)]
        conversations: usize,
        /// Chats per specialist (`max_concurrent_chats`, at most 100).
        #[arg(long, default_value_t = 100)]
        capacity: usize,
        /// Honest messages per second over all conversations.
        #[arg(long, default_value_t = 1000.0)]
        rate: f64,
        /// Honest traffic alone before the hostile load starts (the server's memory is
        /// read at its end).
        #[arg(long, default_value_t = 5)]
        warmup_secs: u64,
        /// Hostile load before the measured window.
        #[arg(long, default_value_t = 5)]
        ramp_secs: u64,
        /// The measured window, with the hostile load running throughout.
        #[arg(long, default_value_t = 30)]
        duration_secs: u64,
        /// Honest traffic alone after the hostile load stops, before the server's memory
        /// is read again.
        #[arg(long, default_value_t = 10)]
        after_secs: u64,
        #[arg(long, default_value_t = 10.0)]
        accepts_per_sec: f64,
        /// Connections of the login flood, each with one request in flight.
        #[arg(long, default_value_t = 32)]
        login_concurrency: usize,
        /// Login attempts per second over all of them; 0 for flat out.
        #[arg(long, default_value_t = 500.0)]
        login_rate: f64,
        /// Existing accounts the flood guesses passwords for (and as many unknown
        /// e-mails).
        #[arg(long, default_value_t = 2)]
        login_accounts: usize,
        /// Visitors with a socket that never reads.
        #[arg(long, default_value_t = 50)]
        stuck_visitors: usize,
        /// Messages (of 3,900 characters) in each stuck visitor's conversation.
        #[arg(long, default_value_t = 250)]
        stuck_messages: usize,
        /// `session.resume` frames per second on each stuck socket.
        #[arg(long, default_value_t = 1.0)]
        stuck_resumes_per_sec: f64,
        /// `ping` frames per second on each stuck socket.
        #[arg(long, default_value_t = 4.0)]
        stuck_pings_per_sec: f64,
        /// Visitors sending invalid frames, one connection each.
        #[arg(long, default_value_t = 10)]
        invalid_connections: usize,
        /// Invalid frames per second over all of them.
        #[arg(long, default_value_t = 100.0)]
        invalid_rate: f64,
    },
    /// Visitors that connect and stay connected without chatting.
    Idle {
        #[arg(long, default_value_t = 50_000)]
        visitors: usize,
        #[arg(long, default_value_t = 30)]
        hold_secs: u64,
        /// The number of the first client: clients connect from 127.0.0.2 on, a new
        /// address every 20,000, so load processes numbered apart use addresses of
        /// their own and do not run out of ports together.
        #[arg(long, default_value_t = 0)]
        first_client: usize,
    },
    /// A long queue, then a specialist taking chats from it one at a time.
    Queue {
        #[arg(long, default_value_t = 10_000)]
        waiting: usize,
        /// `session.start`s per second while the queue fills.
        #[arg(long, default_value_t = 500.0)]
        start_rate: f64,
        #[arg(long, default_value_t = 100)]
        cycles: usize,
    },
    /// Full-text searches over a seeded history (see `scripts/bench.sh search`).
    Search {
        /// The word list the seed drew message bodies from, most common first.
        #[arg(long, default_value = "scripts/bench/search_words.txt")]
        words: PathBuf,
        /// Seeded conversations (visitor e-mails and session numbers go up to it).
        #[arg(long)]
        sessions: usize,
        /// Seeded messages, for the report.
        #[arg(long)]
        messages: u64,
        #[arg(long, default_value_t = 2000)]
        queries: usize,
        #[arg(long, default_value_t = 200)]
        warmup: usize,
        /// Searches in flight at once.
        #[arg(long, default_value_t = 1)]
        concurrency: usize,
        /// How long indexing the seed took, for the report.
        #[arg(long)]
        index_secs: Option<f64>,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    raise_file_limit()?;
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.threads)
        .enable_all()
        .build()?
        .block_on(run(cli))
}

async fn run(cli: Cli) -> Result<()> {
    let or_server = |servers: Vec<SocketAddr>| match servers.is_empty() {
        true => vec![cli.server],
        false => servers,
    };
    let target = setup::Target {
        server: cli.server,
        visitor_servers: or_server(cli.visitor_servers),
        console_servers: or_server(cli.console_servers),
        admin_email: cli.admin_email,
        admin_password: cli.admin_password,
    };
    let mut report = match cli.scenario {
        Scenario::Chat {
            conversations,
            capacity,
            rate,
            window,
            warmup_secs,
            duration_secs,
            accepts_per_sec,
            reconnect,
            acked_out,
            kill_pid,
            kill_after_secs,
        } => {
            let options = chat::ChatOptions {
                conversations,
                capacity,
                rate,
                window,
                warmup: Duration::from_secs(warmup_secs),
                duration: Duration::from_secs(duration_secs),
                accepts_per_sec,
                reconnect,
                acked_out,
                kill: kill_pid.zip(kill_after_secs.map(Duration::from_secs_f64)),
            };
            chat::run(&target, options, cli.server_pid).await?
        }
        Scenario::Hostile {
            conversations,
            capacity,
            rate,
            warmup_secs,
            ramp_secs,
            duration_secs,
            after_secs,
            accepts_per_sec,
            login_concurrency,
            login_rate,
            login_accounts,
            stuck_visitors,
            stuck_messages,
            stuck_resumes_per_sec,
            stuck_pings_per_sec,
            invalid_connections,
            invalid_rate,
        } => {
            let options = hostile::HostileOptions {
                chat: chat::ChatOptions {
                    conversations,
                    capacity,
                    rate: Some(rate),
                    window: 1,
                    warmup: Duration::from_secs(warmup_secs),
                    duration: Duration::from_secs(duration_secs),
                    accepts_per_sec,
                    reconnect: false,
                    acked_out: None,
                    kill: None,
                },
                ramp: Duration::from_secs(ramp_secs),
                after: Duration::from_secs(after_secs),
                login_concurrency,
                login_rate,
                login_accounts,
                stuck_visitors,
                stuck_messages,
                stuck_resumes_per_sec,
                stuck_pings_per_sec,
                invalid_connections,
                invalid_rate,
            };
            hostile::run(&target, options, cli.server_pid).await?
        }
        Scenario::Idle {
            visitors,
            hold_secs,
            first_client,
        } => {
            idle::run(
                target.server,
                visitors,
                first_client,
                Duration::from_secs(hold_secs),
                cli.server_pid,
            )
            .await?
        }
        Scenario::Queue {
            waiting,
            start_rate,
            cycles,
        } => {
            let options = queue::QueueOptions {
                waiting,
                start_rate,
                cycles,
            };
            queue::run(&target, options, cli.server_pid).await?
        }
        Scenario::Search {
            words,
            sessions,
            messages,
            queries,
            warmup,
            concurrency,
            index_secs,
        } => {
            let options = search::SearchOptions {
                words,
                sessions,
                messages,
                queries,
                warmup,
                concurrency,
                index_secs,
            };
            search::run(&target, options, cli.server_pid).await?
        }
    };
    if let Some(label) = cli.label {
        report.set("scenario", label);
    }
    report.finish(cli.json_out.as_deref())
}

/// Tens of thousands of sockets need more descriptors than the usual soft limit of 1024:
/// ask for a million (root may raise the hard limit), else take the hard limit.
fn raise_file_limit() -> Result<()> {
    const WANTED: libc::rlim_t = 1 << 20;
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed to them.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        let raised = libc::rlimit {
            rlim_cur: WANTED.max(limit.rlim_cur),
            rlim_max: WANTED.max(limit.rlim_max),
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) != 0 {
            limit.rlim_cur = limit.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error().into());
            }
        }
    }
    Ok(())
}
