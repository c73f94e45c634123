//! Conversation lists and full-text search (SPEC section 10): the queries behind
//! `GET /api/v1/conversations`, and the indexer's statements (which sessions are
//! behind, and index them). How the index is kept up to date is explained in
//! `crate::search`; how text becomes words, in `crate::search::text`.
//!
//! The statements are plain SQL with every filter as a nullable parameter
//! (`$n IS NULL OR …`). They run with `plan_cache_mode = force_custom_plan`, so Postgres
//! plans each call with its real values: absent filters fold away, and the estimate of
//! how common the searched words are decides between walking the newest sessions and
//! reading the word's posting list.

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{Array, BigInt, Bool, Int4, Nullable, Text, Timestamptz, Uuid as SqlUuid};

use crate::db::sessions::ListCursor;
use crate::domain::{SessionId, SessionStatus, SpecialistId};
use crate::search::query::MessageQuery;

/// Postgres's text search configuration for visitors' names and e-mails (documents
/// and queries) and for reading a message again to cut its snippet.
const CONFIG: &str = "english";

/// What a conversation list is restricted to; `None` means "any".
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only sessions this specialist is or was assigned to (the caller, for
    /// specialists; admins see all).
    pub visible_to: Option<SpecialistId>,
    pub status: Option<SessionStatus>,
    pub tag: Option<String>,
    /// Only sessions this specialist is or was assigned to (a filter the caller chose).
    pub specialist: Option<SpecialistId>,
    /// `created_at >= from`.
    pub from: Option<DateTime<Utc>>,
    /// `created_at < to`.
    pub to: Option<DateTime<Utc>>,
    /// Only archived sessions when true, only the others when false.
    pub archived: bool,
}

/// What to search for: the text (visitors' names and e-mails are matched with
/// Postgres's own reading of it), what it asks of the messages (`None` when it names no
/// word a message could have) and, when the text is a session number (`CHAT-00000042`
/// or `42`), that number.
#[derive(Debug, Clone)]
pub struct Search {
    pub text: String,
    pub messages: Option<MessageQuery>,
    pub number: Option<i64>,
}

/// The conditions every list and search branch shares, over `chat_sessions s`.
const COMMON: &str =
    "(CASE WHEN $1 THEN s.archived_at IS NOT NULL ELSE s.archived_at IS NULL END) \
     AND ($2::uuid IS NULL OR EXISTS (SELECT 1 FROM session_specialists w \
          WHERE w.session_id = s.id AND w.specialist_id = $2)) \
     AND ($3::text IS NULL OR s.status = $3) \
     AND ($4::text IS NULL OR EXISTS (SELECT 1 FROM session_tags t \
          WHERE t.session_id = s.id AND t.tag = $4)) \
     AND ($5::uuid IS NULL OR EXISTS (SELECT 1 FROM session_specialists a \
          WHERE a.session_id = s.id AND a.specialist_id = $5)) \
     AND ($6::timestamptz IS NULL OR s.created_at >= $6) \
     AND ($7::timestamptz IS NULL OR s.created_at < $7) \
     AND ($8::timestamptz IS NULL OR (s.created_at, s.id) < ($8, $9))";

const NEWEST_FIRST: &str = "ORDER BY s.created_at DESC, s.id DESC LIMIT $10";

fn bind_common(
    sql: String,
    filter: &Filter,
    after: Option<ListCursor>,
    limit: i64,
) -> BoxedSqlQuery<'static, Pg, SqlQuery> {
    diesel::sql_query(sql)
        .into_boxed()
        .bind::<Bool, _>(filter.archived)
        .bind::<Nullable<SqlUuid>, _>(filter.visible_to.map(|s| s.0))
        .bind::<Nullable<Text>, _>(filter.status.map(|s| s.as_str()))
        .bind::<Nullable<Text>, _>(filter.tag.clone())
        .bind::<Nullable<SqlUuid>, _>(filter.specialist.map(|s| s.0))
        .bind::<Nullable<Timestamptz>, _>(filter.from)
        .bind::<Nullable<Timestamptz>, _>(filter.to)
        .bind::<Nullable<Timestamptz>, _>(after.map(|(at, _)| at))
        .bind::<Nullable<SqlUuid>, _>(after.map(|(_, id)| id.0))
        .bind::<BigInt, _>(limit)
}

#[derive(QueryableByName)]
struct Hit {
    #[diesel(sql_type = SqlUuid)]
    id: uuid::Uuid,
}

/// Up to `limit` session ids, newest first by `(created_at, id)`, that pass `filter`
/// and, with a search, match it in a message or note, in the visitor's name or e-mail,
/// or by number. Keyset paging over that total order never repeats or skips a row;
/// sessions created while paging sort before the first page.
pub fn page(
    conn: &mut PgConnection,
    filter: &Filter,
    search: Option<&Search>,
    after: Option<ListCursor>,
    limit: i64,
) -> QueryResult<Vec<SessionId>> {
    conn.transaction(|conn| {
        diesel::sql_query("SET LOCAL plan_cache_mode = force_custom_plan").execute(conn)?;
        let hits: Vec<Hit> = match search {
            None => bind_common(
                format!("SELECT s.id FROM chat_sessions s WHERE {COMMON} {NEWEST_FIRST}"),
                filter,
                after,
                limit,
            )
            .load(conn)?,
            // Each way of matching is its own newest-first query with a plan of its own;
            // the page is the newest `limit` of their union.
            Some(search) => {
                let in_messages = match &search.messages {
                    Some(query) => message_candidates(conn, query)?,
                    None => Some(Vec::new()),
                };
                let in_visitors = candidates(
                    conn,
                    diesel::sql_query(format!(
                        "SELECT v.id FROM visitors v \
                         WHERE {} @@ websearch_to_tsquery('{CONFIG}', $1) LIMIT $2",
                        visitor_document()
                    ))
                    .into_boxed()
                    .bind::<Text, _>(search.text.clone()),
                )?;
                let terms = search.messages.as_ref().map(terms).unwrap_or_default();
                let by_message = match (&search.messages, &in_messages) {
                    (None, _) => "false".to_owned(),
                    (Some(query), Some(_)) => {
                        format!("s.id = ANY($13) AND {}", conversation_matches(query, "$15"))
                    }
                    (Some(query), None) => conversation_matches(query, "$15"),
                };
                let by_visitor = match in_visitors {
                    Some(_) => "s.visitor_id = ANY($14)".to_owned(),
                    None => format!(
                        "EXISTS (SELECT 1 FROM visitors v WHERE v.id = s.visitor_id \
                           AND {} @@ websearch_to_tsquery('{CONFIG}', $11))",
                        visitor_document()
                    ),
                };
                bind_common(
                    format!(
                        "SELECT id FROM ( \
                           (SELECT s.id, s.created_at FROM chat_sessions s \
                              WHERE {COMMON} AND {by_message} {NEWEST_FIRST}) \
                           UNION \
                           (SELECT s.id, s.created_at FROM chat_sessions s \
                              WHERE {COMMON} AND {by_visitor} {NEWEST_FIRST}) \
                           UNION \
                           (SELECT s.id, s.created_at FROM chat_sessions s \
                              WHERE {COMMON} AND s.number = $12) \
                         ) hit ORDER BY created_at DESC, id DESC LIMIT $10"
                    ),
                    filter,
                    after,
                    limit,
                )
                .bind::<Text, _>(search.text.clone())
                .bind::<Nullable<BigInt>, _>(search.number)
                .bind::<Array<SqlUuid>, _>(in_messages.unwrap_or_default())
                .bind::<Array<SqlUuid>, _>(in_visitors.unwrap_or_default())
                .bind::<Array<Text>, _>(terms)
                .load(conn)?
            }
        };
        Ok(hits.into_iter().map(|hit| SessionId(hit.id)).collect())
    })
}

/// Most rows a search first reads from a GIN index. A query that matches no more is
/// answered from that list (its sessions, newest first); a more common one is left to
/// the planner, whose statistics know common words well: it walks the newest sessions
/// and checks each, which finds a page quickly exactly because the query is common, or
/// reads the posting list when that is cheaper. Words without statistics (typos, new
/// or rare words) are what this catches: estimated as common, they would walk every
/// session to find nothing.
const CANDIDATES_MAX: i64 = 200;

/// The documents of a chunk `c`'s messages, with their ordinals (1 for `first_seq`).
const MESSAGE_DOCUMENTS: &str = "string_to_table(c.documents, E'\\n') WITH ORDINALITY";

/// Every word and phrase of `query`, in the order [`conversation_matches`] numbers them.
fn terms(query: &MessageQuery) -> Vec<String> {
    query
        .groups
        .iter()
        .flat_map(|g| g.required.iter().chain(&g.excluded).cloned())
        .collect()
}

/// The condition that session `s` matches `query`, whose [`terms`] are the `text[]`
/// parameter `param`: in one of the groups, every required term is in one of its
/// chunks and no excluded term is in any.
fn conversation_matches(query: &MessageQuery, param: &str) -> String {
    let mut index = 0;
    let mut has = |negated: bool| {
        index += 1;
        format!(
            "{}EXISTS (SELECT 1 FROM search_chunks c WHERE c.session_id = s.id \
               AND c.document @@ ({param})[{index}]::tsquery)",
            if negated { "NOT " } else { "" }
        )
    };
    let groups: Vec<String> = query
        .groups
        .iter()
        .map(|g| {
            let mut all: Vec<String> = g.required.iter().map(|_| has(false)).collect();
            all.extend(g.excluded.iter().map(|_| has(true)));
            format!("({})", all.join(" AND "))
        })
        .collect();
    format!("({})", groups.join(" OR "))
}

/// The sessions that may match `query`, from the GIN index, or `None` when that would
/// read more than [`CANDIDATES_MAX`] chunks for some group: each group contributes the
/// sessions with the first of its required terms that is rare enough. A group that only
/// excludes cannot be narrowed this way.
fn message_candidates(
    conn: &mut PgConnection,
    query: &MessageQuery,
) -> QueryResult<Option<Vec<uuid::Uuid>>> {
    let mut all = Vec::new();
    for group in &query.groups {
        let mut found = None;
        for term in &group.required {
            found = candidates(
                conn,
                diesel::sql_query(
                    "SELECT c.session_id AS id FROM search_chunks c \
                     WHERE c.document @@ $1::tsquery LIMIT $2",
                )
                .into_boxed()
                .bind::<Text, _>(term.clone()),
            )?;
            if found.is_some() {
                break;
            }
        }
        match found {
            Some(ids) => all.extend(ids),
            None => return Ok(None),
        }
    }
    all.sort_unstable();
    all.dedup();
    Ok(Some(all))
}

/// The ids `query` returns (its last parameter, the row cap, is bound here), or `None`
/// when there are more than [`CANDIDATES_MAX`].
fn candidates(
    conn: &mut PgConnection,
    query: BoxedSqlQuery<'static, Pg, SqlQuery>,
) -> QueryResult<Option<Vec<uuid::Uuid>>> {
    let rows: Vec<Hit> = query.bind::<BigInt, _>(CANDIDATES_MAX + 1).load(conn)?;
    if rows.len() as i64 > CANDIDATES_MAX {
        return Ok(None);
    }
    let mut ids: Vec<uuid::Uuid> = rows.into_iter().map(|row| row.id).collect();
    ids.sort_unstable();
    ids.dedup();
    Ok(Some(ids))
}

/// The visitor's searchable text; the same expression as the `visitors_search` index.
fn visitor_document() -> String {
    format!("to_tsvector('{CONFIG}', coalesce(v.name, '') || ' ' || coalesce(v.email, ''))")
}

/// One message of a session that matches a search, with a plain-text excerpt.
#[derive(Debug, Clone, QueryableByName)]
pub struct Match {
    #[diesel(sql_type = SqlUuid)]
    pub session_id: uuid::Uuid,
    #[diesel(sql_type = Int4)]
    pub seq: i32,
    #[diesel(sql_type = Text)]
    pub snippet: String,
}

/// Most matches shown per session.
pub const MATCHES_PER_SESSION: i64 = 3;

/// The first few messages (notes included) of each of `sessions`, by `seq`, with a
/// word or phrase `query` wants. The snippet is `ts_headline` without highlighting
/// marks: plain text around the match.
pub fn matches(
    conn: &mut PgConnection,
    sessions: &[SessionId],
    wanted: &str,
) -> QueryResult<Vec<Match>> {
    let ids: Vec<uuid::Uuid> = sessions.iter().map(|s| s.0).collect();
    diesel::sql_query(format!(
        "SELECT h.session_id, h.seq, \
                ts_headline('{CONFIG}', msg.body, $2::tsquery, \
                    'StartSel=\"\", StopSel=\"\", MaxWords=20, MinWords=6') AS snippet \
         FROM (SELECT c.session_id, c.first_seq + d.n::integer - 1 AS seq, \
                      row_number() OVER (PARTITION BY c.session_id \
                                         ORDER BY c.first_seq, d.n) AS n \
               FROM search_chunks c \
               CROSS JOIN LATERAL {MESSAGE_DOCUMENTS} AS d(document, n) \
               WHERE c.session_id = ANY($1) \
                 AND c.document @@ $2::tsquery \
                 AND d.document::tsvector @@ $2::tsquery) h \
         JOIN messages msg ON msg.session_id = h.session_id AND msg.seq = h.seq \
         WHERE h.n <= $3 \
         ORDER BY h.session_id, h.seq"
    ))
    .bind::<Array<SqlUuid>, _>(ids)
    .bind::<Text, _>(wanted)
    .bind::<BigInt, _>(MATCHES_PER_SESSION)
    .load(conn)
}

/// How far session `id` (an SQL expression) is indexed: the last `seq` of its newest
/// chunk, 0 before the first.
fn indexed_seq(id: &str) -> String {
    format!(
        "coalesce((SELECT c.last_seq FROM search_chunks c WHERE c.session_id = {id} \
                   ORDER BY c.last_seq DESC LIMIT 1), 0)"
    )
}

/// The sessions with committed messages that are not indexed yet, and the database's
/// clock when they were read. With `ended_since`, only open sessions and those ended
/// since then are looked at (messages are only ever added to open sessions, or in the
/// transaction that ends one); without it, every session.
pub fn sessions_behind(
    conn: &mut PgConnection,
    ended_since: Option<DateTime<Utc>>,
) -> QueryResult<(Vec<SessionId>, DateTime<Utc>)> {
    conn.transaction(|conn| {
        // One snapshot for the clock and the rows, so nothing committed after the
        // clock was read can have been missed by the rows.
        diesel::sql_query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ").execute(conn)?;
        let now = diesel::select(diesel::dsl::sql::<Timestamptz>("now()"))
            .get_result::<DateTime<Utc>>(conn)?;
        let behind = format!(
            "SELECT s.id FROM chat_sessions s WHERE s.last_seq > {}",
            indexed_seq("s.id")
        );
        let rows: Vec<Hit> = match ended_since {
            None => diesel::sql_query(behind).load(conn)?,
            Some(since) => diesel::sql_query(format!(
                "{behind} AND (s.status IN ('waiting', 'active', 'offline') OR s.ended_at >= $1)"
            ))
            .bind::<Timestamptz, _>(since)
            .load(conn)?,
        };
        Ok((rows.into_iter().map(|r| SessionId(r.id)).collect(), now))
    })
}

/// Waits for any other server's indexer to finish its transaction (an advisory lock
/// held until this transaction ends).
pub fn lock_indexing(conn: &mut PgConnection) -> QueryResult<()> {
    /// The lock's key: "search" in ASCII.
    const KEY: i64 = 0x7365_6172_6368;
    diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
        .bind::<BigInt, _>(KEY)
        .execute(conn)?;
    Ok(())
}

/// The messages of a session not indexed yet: their bodies from `first_seq` on.
#[derive(Debug)]
pub struct Unindexed {
    pub session_id: uuid::Uuid,
    pub first_seq: i32,
    pub bodies: Vec<String>,
}

#[derive(QueryableByName)]
struct UnindexedRow {
    #[diesel(sql_type = SqlUuid)]
    session_id: uuid::Uuid,
    #[diesel(sql_type = Int4)]
    first_seq: i32,
    #[diesel(sql_type = Text)]
    bodies: String,
}

/// Up to `per_session` of the oldest messages of each of `sessions` that are not
/// indexed yet. One row per session, the bodies a JSON array: a row per message cost
/// the indexer more than the documents it made of them.
///
/// The messages are read per session through `(session_id, seq)`: a plain join let the
/// planner hash-join against a sequential scan of all messages, which made every sweep
/// cost the size of the whole history.
pub fn unindexed(
    conn: &mut PgConnection,
    sessions: &[SessionId],
    per_session: i64,
) -> crate::error::Result<Vec<Unindexed>> {
    let ids: Vec<uuid::Uuid> = sessions.iter().map(|s| s.0).collect();
    let rows: Vec<UnindexedRow> = diesel::sql_query(format!(
        "SELECT t.id AS session_id, m.first_seq, m.bodies \
         FROM unnest($1::uuid[]) AS t(id) CROSS JOIN LATERAL ( \
           SELECT min(m.seq) AS first_seq, json_agg(m.body ORDER BY m.seq)::text AS bodies \
           FROM (SELECT m.seq, m.body FROM messages m \
                 WHERE m.session_id = t.id AND m.seq > {} \
                 ORDER BY m.seq LIMIT $2) m \
           HAVING count(*) > 0 \
         ) m",
        indexed_seq("t.id")
    ))
    .bind::<Array<SqlUuid>, _>(ids)
    .bind::<BigInt, _>(per_session)
    .load(conn)?;
    rows.into_iter()
        .map(|row| {
            Ok(Unindexed {
                session_id: row.session_id,
                first_seq: row.first_seq,
                bodies: serde_json::from_str(&row.bodies)
                    .map_err(|e| crate::error::Error::internal(format!("message bodies: {e}")))?,
            })
        })
        .collect()
}

/// The search documents of messages `first_seq..=last_seq` of a session, in
/// Postgres's text form: `document` for all of them, `documents` each message's, one
/// per line.
#[derive(Debug)]
pub struct Chunk {
    pub session_id: uuid::Uuid,
    pub first_seq: i32,
    pub last_seq: i32,
    pub document: String,
    pub documents: String,
}

/// Stores `chunks` in one statement.
pub fn insert_chunks(conn: &mut PgConnection, chunks: Vec<Chunk>) -> QueryResult<usize> {
    let mut columns = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for chunk in chunks {
        columns.0.push(chunk.session_id);
        columns.1.push(chunk.first_seq);
        columns.2.push(chunk.last_seq);
        columns.3.push(chunk.document);
        columns.4.push(chunk.documents);
    }
    diesel::sql_query(
        "INSERT INTO search_chunks (session_id, first_seq, last_seq, document, documents) \
         SELECT id, first_seq, last_seq, document::tsvector, documents \
         FROM unnest($1::uuid[], $2::integer[], $3::integer[], $4::text[], $5::text[]) \
           AS c(id, first_seq, last_seq, document, documents)",
    )
    .bind::<Array<SqlUuid>, _>(columns.0)
    .bind::<Array<Int4>, _>(columns.1)
    .bind::<Array<Int4>, _>(columns.2)
    .bind::<Array<Text>, _>(columns.3)
    .bind::<Array<Text>, _>(columns.4)
    .execute(conn)
}
