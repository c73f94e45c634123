//! Persistence: the only code that talks to Postgres. One module per table holds its row
//! types (which are not wire types; see `protocol`) and its queries. Writes on the chat
//! path go through the group-committing `actors::persistence`; reads and rare
//! administrative writes use [`Db::run`] on actix's blocking thread pool.

pub mod analytics;
pub mod attachments;
pub mod bots;
pub mod business_hours;
pub mod canned_responses;
pub mod events;
pub mod mail;
pub mod messages;
pub mod ownership;
pub mod read_cursors;
pub mod scheduled_messages;
pub mod schema;
pub mod search;
pub mod session_tags;
pub mod sessions;
pub mod setup_links;
pub mod specialists;
pub mod stats;
pub mod visitors;
pub mod webhooks;

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool as R2d2Pool};
use diesel::Connection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::error::{Error, Result};

pub type Pool = R2d2Pool<ConnectionManager<PgConnection>>;

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// A pool that does not connect up front, so the server can start answering `/healthz`
/// and reporting `/readyz` 503 while Postgres is still coming up or is away.
pub fn pool(database_url: &str, size: u32) -> Pool {
    R2d2Pool::builder()
        .max_size(size)
        .min_idle(Some(1))
        // Short, so that requests during an outage fail quickly instead of piling up.
        .connection_timeout(Duration::from_secs(2))
        .test_on_check_out(false)
        .connection_customizer(Box::new(NoJit))
        .build_unchecked(ConnectionManager::new(database_url))
}

/// Turns Postgres's JIT compilation off for the server's connections. Every query here
/// is short, but the planner's estimates for the search indexer's per-session reads
/// pass `jit_above_cost`, and compiling them took two thirds of each read (60-70 ms of
/// JIT-compiled execution against 19-24 ms without, for 200 sessions).
#[derive(Debug)]
struct NoJit;

impl CustomizeConnection<PgConnection, diesel::r2d2::Error> for NoJit {
    fn on_acquire(&self, conn: &mut PgConnection) -> std::result::Result<(), diesel::r2d2::Error> {
        conn.batch_execute("SET jit = off")
            .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// Applies every pending migration; run once at start-up before anything else.
pub fn migrate(database_url: &str) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut conn = PgConnection::establish(database_url)?;
    let applied = conn.run_pending_migrations(MIGRATIONS)?;
    for migration in applied {
        log::info!("applied migration {migration}");
    }
    Ok(())
}

/// A cheap, cloneable handle for reads and non-chat writes.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
}

impl Db {
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Runs `work` with a pooled connection on the blocking thread pool.
    pub async fn run<T, F>(&self, work: F) -> Result<T>
    where
        F: FnOnce(&mut PgConnection) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        actix_web::web::block(move || {
            let mut conn = pool.get()?;
            work(&mut conn)
        })
        .await
        .map_err(Error::internal)?
    }
}
