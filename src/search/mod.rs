//! The search indexer: keeps the full-text documents of `search_chunks` (SPEC section
//! 10) up to date without touching the path that acknowledges messages.
//!
//! The chat path commits messages and moves `chat_sessions.last_seq` in the same
//! transaction, as it always did; it never waits for, calls or notifies the indexer. The
//! indexer is an actor that wakes every [`TICK`] and polls:
//!
//! 1. **Which sessions are behind.** A session's newest chunk ends at the highest `seq`
//!    indexed; the session is behind while `last_seq` is greater. Because `seq` has no
//!    gaps and `last_seq` commits with the messages, the comparison is exact: no
//!    timestamps, no guessing at commit order.
//! 2. **Index them in batches.** For [`SESSIONS_PER_BATCH`] sessions at a time, one
//!    transaction reads the messages past their marks, and stores the documents the
//!    server computed ([`text`]) as one chunk per session (at most
//!    [`MESSAGES_PER_CHUNK`] messages), which also moves the marks. One row and its
//!    index entries for a sweep's worth of a conversation, rather than one per
//!    message, is what keeps indexing from costing the chat path its throughput.
//!
//! Polling every session each tick would grow with history, so a tick only looks at
//! open sessions and at those that ended since the previous sweep minus [`MARGIN`]:
//! messages are only added to open sessions or in the transaction that ends one, and
//! `ended_at` is stamped before its commit, so the margin covers a slow commit.
//!
//! **After a restart or a crash** the first sweep looks at every session, so whatever
//! was committed but not yet indexed when the process died is indexed before anything
//! else. Nothing lives only in memory: losing the process loses no progress and no
//! work. Each batch holds an advisory lock, so two servers on one database never index
//! the same messages twice.
//!
//! **Lag.** A message waits at most one tick plus the time to index what arrived with it:
//! the next sweep starts a tick after the previous one ended, so a burst is indexed in
//! bigger batches rather than by overlapping sweeps.

pub mod query;
pub mod text;

use std::time::Duration;

use std::sync::Arc;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use diesel::Connection;

use crate::cluster::Cluster;
use crate::db::{self, Db};
use crate::domain::SessionId;
use crate::error::Result;

/// How often the indexer looks for new messages; the search lag budget is 5 s.
pub const TICK: Duration = Duration::from_secs(2);
/// Sessions indexed per transaction: bounds one transaction when catching up.
const SESSIONS_PER_BATCH: usize = 200;
/// Most messages of one session read per transaction; a longer backlog takes turns.
const MESSAGES_PER_READ: i64 = 1_000;
/// Positions between the last word of a message and the first of the next in a
/// chunk's joined document: more than any phrase a query can hold (one word per two
/// characters at most), so no phrase runs from one message into the next.
const GAP: u16 = (query::MAX_CHARS / 2) as u16;
/// Most messages in one chunk, so finding the matches to show in it stays cheap.
const MESSAGES_PER_CHUNK: usize = 100;
/// How long before its commit an end may have been stamped, and still be noticed.
const MARGIN: chrono::Duration = chrono::Duration::seconds(60);

pub struct SearchIndexer {
    db: Db,
    /// In a cluster only the leading node indexes.
    cluster: Arc<Cluster>,
    /// The database clock at the last successful sweep; `None` until the first one,
    /// which therefore covers every session.
    swept_at: Option<DateTime<Utc>>,
}

impl SearchIndexer {
    pub fn start(db: Db, cluster: Arc<Cluster>) -> Addr<SearchIndexer> {
        SearchIndexer {
            db,
            cluster,
            swept_at: None,
        }
        .start()
    }

    /// Sweeps, then schedules the next sweep a tick after this one ended.
    fn tick(&mut self, ctx: &mut Context<Self>) {
        if !self.cluster.leads() {
            // The leader may change meanwhile: its first sweep covers every session.
            self.swept_at = None;
            ctx.run_later(TICK, Self::tick);
            return;
        }
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
    for sessions in behind.chunks(SESSIONS_PER_BATCH) {
        while index(conn, sessions)? {}
    }
    Ok(swept_at)
}

/// Indexes the next messages of `sessions`; true when some have more to read.
fn index(conn: &mut diesel::PgConnection, sessions: &[SessionId]) -> Result<bool> {
    conn.transaction(|conn| {
        db::search::lock_indexing(conn)?;
        let unindexed = db::search::unindexed(conn, sessions, MESSAGES_PER_READ)?;
        let more = unindexed
            .iter()
            .any(|session| session.bodies.len() as i64 == MESSAGES_PER_READ);
        db::search::insert_chunks(conn, chunks(unindexed))?;
        Ok(more)
    })
}

/// Each session's messages as chunks of consecutive messages. A chunk ends at
/// [`MESSAGES_PER_CHUNK`] messages, and before its joined document would run out of
/// positions: past that, phrases in it could no longer be told apart.
fn chunks(sessions: Vec<db::search::Unindexed>) -> Vec<db::search::Chunk> {
    let mut tokenizer = text::Tokenizer::new();
    let mut chunks = Vec::new();
    for session in sessions {
        let mut open: Option<Open> = None;
        for (seq, body) in (session.first_seq..).zip(&session.bodies) {
            let mut document = text::Document::of(body, &mut tokenizer);
            let fits = open.as_ref().is_some_and(|chunk| {
                chunk.documents.len() < MESSAGES_PER_CHUNK
                    && u32::from(chunk.end) + u32::from(GAP) + u32::from(document.last_position())
                        < u32::from(text::MAX_POSITION)
            });
            if !fits {
                chunks.extend(open.take().map(|chunk| chunk.finish(session.session_id)));
            }
            let chunk = open.get_or_insert_with(|| Open {
                first_seq: seq,
                document: text::Document::default(),
                end: 0,
                documents: Vec::new(),
            });
            chunk.document.append(&document, chunk.end + GAP);
            chunk.end += GAP + document.last_position();
            chunk.documents.push(document.literal());
        }
        chunks.extend(open.map(|chunk| chunk.finish(session.session_id)));
    }
    chunks
}

/// A chunk being filled.
struct Open {
    first_seq: i32,
    document: text::Document,
    /// Where the last message's words end in `document`.
    end: u16,
    documents: Vec<String>,
}

impl Open {
    fn finish(mut self, session_id: uuid::Uuid) -> db::search::Chunk {
        db::search::Chunk {
            session_id,
            first_seq: self.first_seq,
            last_seq: self.first_seq + self.documents.len() as i32 - 1,
            document: self.document.literal(),
            documents: self.documents.join("\n"),
        }
    }
}
