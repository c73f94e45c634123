//! The search indexer: keeps the full-text documents of `search_messages` (SPEC section
//! 10) up to date without touching the path that acknowledges messages.
//!
//! The chat path commits messages and moves `chat_sessions.last_seq` in the same
//! transaction, as it always did; it never waits for, calls or notifies the indexer. The
//! indexer is an actor that wakes every [`TICK`] and polls:
//!
//! 1. **Which sessions are behind.** `search_progress.indexed_seq` is a persisted
//!    per-session high-water mark: every message with a `seq` up to it has its document.
//!    A session is behind while `last_seq` is greater. Because `seq` has no gaps and
//!    `last_seq` commits with the messages, the comparison is exact: no timestamps, no
//!    guessing at commit order.
//! 2. **Index them in batches.** One statement per [`SESSIONS_PER_STATEMENT`] sessions
//!    reads the messages past the mark, inserts their documents (`ON CONFLICT DO
//!    NOTHING`, so repeating work is harmless) and moves the mark to the highest `seq`
//!    it read, all in one snapshot.
//!
//! Polling every session each tick would grow with history, so a tick only looks at
//! open sessions and at those that ended since the previous sweep minus [`MARGIN`]:
//! messages are only added to open sessions or in the transaction that ends one, and
//! `ended_at` is stamped before its commit, so the margin covers a slow commit.
//!
//! **After a restart or a crash** the first sweep looks at every session (`last_seq >
//! indexed_seq` over the whole table, one hash join), so whatever was committed but not
//! yet indexed when the process died is indexed before anything else. Nothing lives only
//! in memory: losing the process loses no progress and no work.
//!
//! **Lag.** A message waits at most one tick plus the time to index what arrived with it:
//! the next sweep starts a tick after the previous one ended, so a burst is indexed in
//! bigger batches rather than by overlapping sweeps.

use std::time::Duration;

use actix::prelude::*;
use chrono::{DateTime, Utc};

use crate::db::{self, Db};
use crate::error::Result;

/// How often the indexer looks for new messages; the search lag budget is 5 s.
pub const TICK: Duration = Duration::from_secs(2);
/// Sessions indexed per statement: bounds one transaction when catching up.
const SESSIONS_PER_STATEMENT: usize = 200;
/// How long before its commit an end may have been stamped, and still be noticed.
const MARGIN: chrono::Duration = chrono::Duration::seconds(60);

pub struct SearchIndexer {
    db: Db,
    /// The database clock at the last successful sweep; `None` until the first one,
    /// which therefore covers every session.
    swept_at: Option<DateTime<Utc>>,
}

impl SearchIndexer {
    pub fn start(db: Db) -> Addr<SearchIndexer> {
        SearchIndexer { db, swept_at: None }.start()
    }

    /// Sweeps, then schedules the next sweep a tick after this one ended.
    fn tick(&mut self, ctx: &mut Context<Self>) {
        let db = self.db.clone();
        let ended_since = self.swept_at.map(|at| at - MARGIN);
        async move { db.run(move |conn| catch_up(conn, ended_since)).await }
            .into_actor(self)
            .map(|result, this, ctx| {
                match result {
                    Ok(swept_at) => this.swept_at = Some(swept_at),
                    Err(e) => log::warn!("search indexing failed, will retry: {e}"),
                }
                ctx.run_later(TICK, Self::tick);
            })
            .spawn(ctx);
    }
}

impl Actor for SearchIndexer {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.tick(ctx);
    }
}

/// One sweep: finds the sessions behind and indexes them; returns the sweep's clock.
fn catch_up(
    conn: &mut diesel::PgConnection,
    ended_since: Option<DateTime<Utc>>,
) -> Result<DateTime<Utc>> {
    let (behind, swept_at) = db::search::sessions_behind(conn, ended_since)?;
    if ended_since.is_none() && !behind.is_empty() {
        log::info!("search: indexing {} sessions behind", behind.len());
    }
    for chunk in behind.chunks(SESSIONS_PER_STATEMENT) {
        db::search::index(conn, chunk)?;
    }
    Ok(swept_at)
}
