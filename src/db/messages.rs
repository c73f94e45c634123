//! Messages: the durable transcript. `(session_id, seq)` is unique, so two writers that
//! disagreed about the next `seq` could never both commit; the `ChatSession` actor is the
//! single writer that makes the sequence gap-free.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Int4, Nullable, Text, Timestamptz, Uuid as SqlUuid};

use super::schema::messages;
use crate::domain::{AttachmentId, MessageId, MessageKind, ParticipantType, SessionId};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = messages)]
pub struct Message {
    pub id: MessageId,
    pub session_id: SessionId,
    pub seq: i32,
    pub sender_type: ParticipantType,
    pub sender_id: Option<uuid::Uuid>,
    pub kind: MessageKind,
    pub body: String,
    pub attachment_id: Option<AttachmentId>,
    pub client_msg_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Inserts `batch` (messages of any number of sessions) with one statement and moves each
/// session's `last_seq` forward with a second one. The rows travel as one array per
/// column: the statement text stays the same whatever the batch size, so Postgres parses
/// a few hundred bytes instead of a `VALUES` list with thousands of parameters.
///
/// The second statement is also the check that every session exists (`messages` has no
/// foreign key to them, see migration 000009) and is still written by the epoch in
/// `epochs`: if it updates fewer sessions than the batch names, the caller's
/// transaction fails and nothing is stored.
pub fn insert_batch(
    conn: &mut PgConnection,
    batch: &[Message],
    epochs: &Epochs,
) -> crate::error::Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let column = |f: fn(&Message) -> uuid::Uuid| batch.iter().map(f).collect::<Vec<_>>();
    diesel::sql_query(
        "INSERT INTO messages (id, session_id, seq, sender_type, sender_id, kind, body, \
         attachment_id, client_msg_id, created_at) \
         SELECT * FROM unnest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind::<Array<SqlUuid>, _>(column(|m| m.id.0))
    .bind::<Array<SqlUuid>, _>(column(|m| m.session_id.0))
    .bind::<Array<Int4>, _>(batch.iter().map(|m| m.seq).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(
        batch
            .iter()
            .map(|m| m.sender_type.as_str())
            .collect::<Vec<_>>(),
    )
    .bind::<Array<Nullable<SqlUuid>>, _>(batch.iter().map(|m| m.sender_id).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(batch.iter().map(|m| m.kind.as_str()).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(batch.iter().map(|m| m.body.as_str()).collect::<Vec<_>>())
    .bind::<Array<Nullable<SqlUuid>>, _>(
        batch
            .iter()
            .map(|m| m.attachment_id.map(|a| a.0))
            .collect::<Vec<_>>(),
    )
    .bind::<Array<Nullable<Text>>, _>(
        batch
            .iter()
            .map(|m| m.client_msg_id.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind::<Array<Timestamptz>, _>(batch.iter().map(|m| m.created_at).collect::<Vec<_>>())
    .execute(conn)?;

    let mut last: std::collections::HashMap<SessionId, i32> = std::collections::HashMap::new();
    for message in batch {
        let seq = last.entry(message.session_id).or_insert(message.seq);
        *seq = (*seq).max(message.seq);
    }
    let sessions = last.len();
    let mut ids = Vec::with_capacity(sessions);
    let mut seqs = Vec::with_capacity(sessions);
    let mut fences = Vec::with_capacity(sessions);
    for (id, seq) in last {
        ids.push(id.0);
        seqs.push(seq);
        fences.push(epochs.of(id));
    }
    // The epoch is the writer's fencing token (`db::ownership`): a session whose writer
    // was replaced is not updated, and its messages roll back with the transaction.
    let updated = diesel::sql_query(
        "UPDATE chat_sessions SET last_seq = GREATEST(chat_sessions.last_seq, v.seq) \
         FROM unnest($1, $2, $3) AS v(id, seq, epoch) \
         WHERE chat_sessions.id = v.id AND chat_sessions.owner_epoch = v.epoch",
    )
    .bind::<Array<SqlUuid>, _>(ids)
    .bind::<Array<Int4>, _>(seqs)
    .bind::<Array<BigInt>, _>(fences)
    .execute(conn)?;
    if updated < sessions {
        return Err(crate::error::Error::moved());
    }
    Ok(())
}

/// The epoch each session's writer holds, for the sessions of a batch of messages.
#[derive(Default)]
pub struct Epochs(std::collections::HashMap<SessionId, i64>);

impl Epochs {
    /// The epochs of a single session's writes.
    pub fn one(session: SessionId, epoch: i64) -> Epochs {
        Epochs(std::collections::HashMap::from([(session, epoch)]))
    }

    pub fn add(&mut self, session: SessionId, epoch: i64) {
        self.0.insert(session, epoch);
    }

    fn of(&self, session: SessionId) -> i64 {
        self.0.get(&session).copied().unwrap_or_default()
    }
}

pub fn find_by_seq(
    conn: &mut PgConnection,
    session: SessionId,
    seq: i32,
) -> QueryResult<Option<Message>> {
    messages::table
        .filter(messages::session_id.eq(session).and(messages::seq.eq(seq)))
        .select(Message::as_select())
        .first(conn)
        .optional()
}

/// A stored message with its sender's display name and, for a file, its attachment.
pub type Named = (
    Message,
    Option<String>,
    Option<super::attachments::Attachment>,
);

/// Which messages of a session to load.
#[derive(Debug, Clone, Copy)]
pub enum Page {
    /// Ascending from `seq > after`.
    After(i32),
    /// The newest ones with `seq < before`, returned ascending.
    Before(i32),
}

/// Loads up to `limit` messages (plus whether there are more), notes only when asked.
pub fn page(
    conn: &mut PgConnection,
    session: SessionId,
    page: Page,
    limit: i64,
    with_notes: bool,
) -> QueryResult<(Vec<Named>, bool)> {
    use super::attachments::Attachment;
    use super::schema::{attachments, bots, specialists, visitors};
    let mut query = messages::table
        .left_join(attachments::table)
        .left_join(specialists::table.on(messages::sender_id.eq(specialists::id.nullable())))
        .left_join(bots::table.on(messages::sender_id.eq(bots::id.nullable())))
        .left_join(visitors::table.on(messages::sender_id.eq(visitors::id.nullable())))
        .filter(messages::session_id.eq(session))
        .select((
            Message::as_select(),
            specialists::name.nullable(),
            bots::name.nullable(),
            visitors::name.nullable(),
            Option::<Attachment>::as_select(),
        ))
        .limit(limit + 1)
        .into_boxed();
    if !with_notes {
        query = query.filter(messages::kind.ne(MessageKind::Note));
    }
    query = match page {
        Page::After(after) => query
            .filter(messages::seq.gt(after))
            .order(messages::seq.asc()),
        Page::Before(before) => query
            .filter(messages::seq.lt(before))
            .order(messages::seq.desc()),
    };
    type Row = (
        Message,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<Attachment>,
    );
    let rows: Vec<Row> = query.load(conn)?;
    let has_more = rows.len() as i64 > limit;
    let mut named: Vec<Named> = rows
        .into_iter()
        .take(limit as usize)
        .map(|(message, specialist, bot, visitor, file)| {
            (message, specialist.or(bot).or(visitor), file)
        })
        .collect();
    if matches!(page, Page::Before(_)) {
        named.reverse();
    }
    Ok((named, has_more))
}

/// The `(sender_id, client_msg_id) → seq` of a session's latest `limit` messages sent
/// with a client id, newest first: what resends after a restart are recognised by.
pub fn client_keys(
    conn: &mut PgConnection,
    session: SessionId,
    limit: i64,
) -> QueryResult<Vec<(Option<uuid::Uuid>, String, i32)>> {
    messages::table
        .filter(
            messages::session_id
                .eq(session)
                .and(messages::client_msg_id.is_not_null()),
        )
        .order(messages::seq.desc())
        .limit(limit)
        .select((
            messages::sender_id,
            messages::client_msg_id.assume_not_null(),
            messages::seq,
        ))
        .load(conn)
}

/// The seq of the message `sender` sent with `key` in `session`, if there is one.
pub fn seq_of_key(
    conn: &mut PgConnection,
    session: SessionId,
    sender: uuid::Uuid,
    key: &str,
) -> QueryResult<Option<i32>> {
    messages::table
        .filter(
            messages::session_id
                .eq(session)
                .and(messages::sender_id.eq(sender))
                .and(messages::client_msg_id.eq(key)),
        )
        .select(messages::seq)
        .first(conn)
        .optional()
}
