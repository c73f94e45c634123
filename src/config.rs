//! The one place settings are read. Every setting comes from a command-line flag or the
//! matching environment variable, with the default shown by `switchboard --help`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use lettre::message::Mailbox;

use crate::http::trusted_proxies::TrustedProxies;
use crate::mail::settings::{mail_from, SmtpUrl};
use crate::origins::AllowedOrigins;

/// Settings of the server and of the maintenance subcommands.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Postgres connection URL.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/switchboard"
    )]
    pub database_url: String,

    /// Address and port to listen on.
    #[arg(long, env = "SWITCHBOARD_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// Reverse proxies in front of the server, comma-separated addresses or CIDR ranges
    /// (`127.0.0.1,10.0.0.0/8,2001:db8::/32`): only from these peers are `Forwarded` and
    /// `X-Forwarded-*` believed, for the client's address and the public URL
    /// [default: none].
    #[arg(
        long,
        env = "SWITCHBOARD_TRUSTED_PROXIES",
        value_parser = TrustedProxies::parse,
        default_value = "",
        hide_default_value = true
    )]
    pub trusted_proxies: TrustedProxies,

    /// Directory for the generated JWT secret and other local state.
    #[arg(long, env = "SWITCHBOARD_DATA_DIR", default_value = "var")]
    pub data_dir: PathBuf,

    /// Directory for uploaded files [default: <data dir>/attachments].
    #[arg(long, env = "SWITCHBOARD_ATTACHMENT_DIR")]
    pub attachment_dir: Option<PathBuf>,

    /// Largest accepted attachment, in bytes.
    #[arg(long, env = "SWITCHBOARD_MAX_UPLOAD_BYTES", default_value_t = 10 * 1024 * 1024)]
    pub max_upload_bytes: usize,

    /// HS256 secret for every token [default: generated once, kept in the data dir].
    #[arg(long, env = "SWITCHBOARD_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// Seconds a specialist has to accept an offer before it moves on.
    #[arg(long, env = "SWITCHBOARD_OFFER_TIMEOUT_SECS", default_value_t = 20)]
    pub offer_timeout_secs: u64,

    /// Assign waiting chats directly instead of offering them.
    #[arg(long, env = "SWITCHBOARD_AUTO_ACCEPT", default_value_t = false, action = clap::ArgAction::Set)]
    pub auto_accept: bool,

    /// Seconds a waiting visitor may be disconnected before the chat is abandoned.
    #[arg(long, env = "SWITCHBOARD_ABANDON_AFTER_SECS", default_value_t = 120)]
    pub abandon_after_secs: u64,

    /// Seconds a visitor waits in the queue before the widget offers to leave a message
    /// instead.
    #[arg(
        long,
        env = "SWITCHBOARD_LEAVE_MESSAGE_AFTER_SECS",
        default_value_t = 300
    )]
    pub leave_message_after_secs: u64,

    /// Seconds a specialist may have no console open before going offline.
    #[arg(long, env = "SWITCHBOARD_SPECIALIST_GRACE_SECS", default_value_t = 60)]
    pub specialist_grace_secs: u64,

    /// Allow webhooks to loopback and private addresses.
    #[arg(long, env = "SWITCHBOARD_WEBHOOK_ALLOW_PRIVATE", default_value_t = false, action = clap::ArgAction::Set)]
    pub webhook_allow_private: bool,

    /// PEM file of certificate authorities trusted for https webhooks besides the public
    /// ones compiled in (e.g. an internal CA).
    #[arg(long, env = "SWITCHBOARD_WEBHOOK_CA_FILE")]
    pub webhook_ca_file: Option<PathBuf>,

    /// SMTP server for mail to visitors (`smtp://host:25`, `smtp://host:587?tls=required`,
    /// `smtps://user:pass@host:465`); unset, mail is kept in the outbox, not sent.
    #[arg(long, env = "SWITCHBOARD_SMTP_URL", value_parser = SmtpUrl::parse, hide_env_values = true)]
    pub smtp_url: Option<SmtpUrl>,

    /// Sender of mail to visitors: `Name <address>` or an address.
    #[arg(
        long,
        env = "SWITCHBOARD_MAIL_FROM",
        value_parser = mail_from,
        default_value = "Switchboard <no-reply@localhost>"
    )]
    pub mail_from: Mailbox,

    /// Keep the full-text search index up to date. Off, searches find only what was
    /// indexed before, visitors and session numbers; on again, the indexer catches up.
    /// For measuring what search costs the chat path (SPEC section 10 allows 10 %).
    #[arg(long, env = "SWITCHBOARD_SEARCH_INDEXING", default_value_t = true, action = clap::ArgAction::Set)]
    pub search_indexing: bool,

    /// Visitor sign-ups (`POST /api/v1/visitors`) allowed per client IP per minute.
    #[arg(
        long,
        env = "SWITCHBOARD_VISITOR_SIGNUPS_PER_MINUTE",
        default_value_t = 30
    )]
    pub visitor_signups_per_minute: u32,

    /// Availability checks (`GET /api/v1/availability`) allowed per client IP per minute,
    /// on each node.
    #[arg(
        long,
        env = "SWITCHBOARD_AVAILABILITY_PER_MINUTE",
        default_value_t = 120
    )]
    pub availability_per_minute: u32,

    /// WebSocket frames a connection may send per second (bursts of twice as many).
    #[arg(long, env = "SWITCHBOARD_WS_RATE_PER_SEC", default_value_t = 20)]
    pub ws_rate_per_sec: u32,

    /// Database connections kept by the pool.
    #[arg(long, env = "SWITCHBOARD_DB_POOL_SIZE", default_value_t = 8)]
    pub db_pool_size: u32,

    /// Persistence threads, each committing one batch at a time.
    #[arg(long, env = "SWITCHBOARD_DB_WRITERS", default_value_t = 2)]
    pub db_writers: usize,

    /// Open connections (HTTP and WebSocket) each worker thread holds at most; an idle
    /// chat widget keeps one open all day, so this is far above actix's usual 25,000.
    #[arg(long, env = "SWITCHBOARD_MAX_CONNECTIONS", default_value_t = 100_000)]
    pub max_connections: usize,

    /// NATS server of the cluster this node joins (e.g. `nats://127.0.0.1:4222`); unset,
    /// the node runs alone and needs no NATS.
    #[arg(long, env = "SWITCHBOARD_NATS_URL")]
    pub nats_url: Option<String>,

    /// This node's name in the cluster: 1 to 64 letters, digits, `-`, `_` or `.`
    /// [default: generated at start].
    #[arg(long, env = "SWITCHBOARD_NODE_ID")]
    pub node_id: Option<crate::cluster::NodeId>,

    /// Seconds a node's lease on its sessions and on the cluster's once-only work runs
    /// without renewal: how long a dead node's sessions wait for another node.
    #[arg(long, env = "SWITCHBOARD_LEASE_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(2..=3600))]
    pub lease_secs: u64,

    /// Web pages that may use the visitor widget: `*` (any), or comma-separated origins,
    /// each exact (`https://shop.example`) or with a leading wildcard label
    /// (`https://*.example.com`, one or more labels), with a port or `:*` (any port).
    #[arg(long, env = "SWITCHBOARD_ALLOWED_ORIGINS", default_value = "*")]
    pub allowed_origins: AllowedOrigins,

    /// HTTP worker threads [default: one per core].
    #[arg(long, env = "SWITCHBOARD_WORKERS")]
    pub workers: Option<usize>,

    #[command(flatten)]
    pub limits: Limits,
}

/// The limits that keep one visitor, bot or stranger from slowing, starving or filling
/// the server for everyone else (SPEC section 12).
#[derive(Debug, Clone, Args)]
pub struct Limits {
    /// Bytes queued for one WebSocket before it is dropped as too far behind.
    #[arg(long, env = "SWITCHBOARD_WS_OUTBOX_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub ws_outbox_bytes: usize,

    /// Bytes of messages in one `session.state` or `history` reply; past it the reply
    /// carries fewer messages and `has_more: true`. A page of 500 ordinary messages fits;
    /// the WebSocket transport may hold 32 frames for a peer that does not read, so this
    /// also bounds what a dropped connection keeps until it closes.
    #[arg(long, env = "SWITCHBOARD_WS_REPLY_BYTES", default_value_t = 256 * 1024)]
    pub ws_reply_bytes: usize,

    /// Open WebSockets one visitor may have.
    #[arg(long, env = "SWITCHBOARD_VISITOR_CONNECTIONS", default_value_t = 16)]
    pub visitor_connections: usize,

    /// Open WebSockets one specialist or admin may have.
    #[arg(long, env = "SWITCHBOARD_STAFF_CONNECTIONS", default_value_t = 64)]
    pub staff_connections: usize,

    /// Waiting sessions listed in one `queue.snapshot` or `GET /queue` (the total is
    /// always true).
    #[arg(long, env = "SWITCHBOARD_QUEUE_LIST_MAX", default_value_t = 500)]
    pub queue_list_max: usize,

    /// Failed logins per account, and per client address, within the login window
    /// before further attempts get 429.
    #[arg(long, env = "SWITCHBOARD_LOGIN_FAILURES", default_value_t = 10)]
    pub login_failures: u32,

    /// The window failed logins are counted over, in seconds.
    #[arg(long, env = "SWITCHBOARD_LOGIN_WINDOW_SECS", default_value_t = 15 * 60)]
    pub login_window_secs: u64,

    /// Password hashes computed at once; more logins wait their turn.
    #[arg(long, env = "SWITCHBOARD_PASSWORD_HASHES", default_value_t = 2)]
    pub password_hashes: usize,

    /// Files one session may hold.
    #[arg(long, env = "SWITCHBOARD_SESSION_FILES", default_value_t = 50)]
    pub session_files: i64,

    /// Bytes of files one session may hold.
    #[arg(long, env = "SWITCHBOARD_SESSION_FILE_BYTES", default_value_t = 100 * 1024 * 1024)]
    pub session_file_bytes: i64,

    /// Uploads one caller may make per minute.
    #[arg(long, env = "SWITCHBOARD_UPLOADS_PER_MINUTE", default_value_t = 10)]
    pub uploads_per_minute: u32,

    /// Seconds an upload may wait to be sent in a message before it is deleted.
    #[arg(long, env = "SWITCHBOARD_UNSENT_UPLOAD_SECS", default_value_t = 24 * 60 * 60)]
    pub unsent_upload_secs: u64,

    /// Messages one caller may post over HTTP per minute.
    #[arg(
        long,
        env = "SWITCHBOARD_HTTP_MESSAGES_PER_MINUTE",
        default_value_t = 120
    )]
    pub http_messages_per_minute: u32,
}

impl Config {
    pub fn attachment_dir(&self) -> PathBuf {
        self.attachment_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("attachments"))
    }

    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.lease_secs)
    }

    pub fn offer_timeout(&self) -> Duration {
        Duration::from_secs(self.offer_timeout_secs)
    }

    pub fn abandon_after(&self) -> Duration {
        Duration::from_secs(self.abandon_after_secs)
    }

    pub fn specialist_grace(&self) -> Duration {
        Duration::from_secs(self.specialist_grace_secs)
    }
}
