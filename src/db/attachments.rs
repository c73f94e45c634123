//! Uploaded files: the metadata row. The bytes live on disk under the attachment
//! directory, named by `storage_key`, which is random so that no name a client chose
//! ever reaches the file system.
//!
//! Two writers meet here besides the upload: the message commit, which sends a file
//! (and locks its row while doing so, see [`find`]), and the sweep that deletes files
//! never sent (which skips locked rows, see [`delete_unsent`]).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamptz, Uuid};

use super::schema::{attachments, chat_sessions, messages};
use crate::attachments::quota::{OverQuota, SessionQuota, Usage};
use crate::domain::{AttachmentId, SessionId};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = attachments)]
pub struct Attachment {
    pub id: AttachmentId,
    pub session_id: SessionId,
    pub uploaded_by: uuid::Uuid,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub storage_key: String,
    pub created_at: DateTime<Utc>,
}

/// A file the sweep deleted: its row is gone, its bytes are to be removed.
#[derive(Debug, QueryableByName)]
pub struct Swept {
    #[diesel(sql_type = Uuid)]
    pub id: AttachmentId,
    #[diesel(sql_type = Text)]
    pub storage_key: String,
}

pub fn insert(conn: &mut PgConnection, attachment: &Attachment) -> QueryResult<Attachment> {
    diesel::insert_into(attachments::table)
        .values(attachment)
        .returning(Attachment::as_returning())
        .get_result(conn)
}

/// Stores `attachment` if its session still has room for it by `quota`. The session's
/// row is locked (`FOR NO KEY UPDATE`, which leaves foreign-key checks of other writers
/// alone) from the count to the insert, so two uploads at once are counted one after the
/// other and cannot both take the last room.
pub fn insert_within_quota(
    conn: &mut PgConnection,
    attachment: &Attachment,
    quota: &SessionQuota,
) -> QueryResult<Result<Attachment, OverQuota>> {
    conn.transaction(|conn| {
        chat_sessions::table
            .find(attachment.session_id)
            .select(chat_sessions::id)
            .for_no_key_update()
            .first::<SessionId>(conn)?;
        let size = u64::try_from(attachment.size_bytes).unwrap_or(u64::MAX);
        if let Err(over) = quota.admit(usage(conn, attachment.session_id)?, size) {
            return Ok(Err(over));
        }
        insert(conn, attachment).map(Ok)
    })
}

/// How many files a session holds and their bytes, sent or not.
pub fn usage(conn: &mut PgConnection, session: SessionId) -> QueryResult<Usage> {
    let (files, bytes) = attachments::table
        .filter(attachments::session_id.eq(session))
        .select((
            diesel::dsl::count_star(),
            diesel::dsl::sql::<BigInt>("COALESCE(SUM(size_bytes), 0)::bigint"),
        ))
        .get_result::<(i64, i64)>(conn)?;
    Ok(Usage { files, bytes })
}

/// The attachment `id`. Also locks its row against deletion (`FOR KEY SHARE`) for the
/// rest of the caller's transaction: the message commit reads the file it sends with
/// this, and the sweep of unsent files must not delete it between that read and the
/// message's insert.
pub fn find(conn: &mut PgConnection, id: AttachmentId) -> QueryResult<Option<Attachment>> {
    attachments::table
        .find(id)
        .select(Attachment::as_select())
        .for_key_share()
        .first(conn)
        .optional()
}

/// Whether a message already carries this attachment (each file is sent once).
pub fn is_sent(conn: &mut PgConnection, id: AttachmentId) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        messages::table.filter(messages::attachment_id.eq(id)),
    ))
    .get_result(conn)
}

/// Deletes up to `limit` attachments created before `created_before` that no message
/// carries and no pending scheduled message will (a cancelled one lets go of its file), with ids in `(after, below)` (ids are v7,
/// ordered by time: the range lets the primary key index skip what earlier sweeps looked
/// at); returns them in id order. Rows a message commit has locked are skipped: they are
/// being sent. The message lookups go through the `(session_id, …)` indexes, as a file is
/// only ever sent in its own session.
pub fn delete_unsent(
    conn: &mut PgConnection,
    after: uuid::Uuid,
    below: uuid::Uuid,
    created_before: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<Swept>> {
    diesel::sql_query(
        "DELETE FROM attachments WHERE id IN (
             SELECT a.id FROM attachments a
             WHERE a.id > $1 AND a.id < $2 AND a.created_at < $3
               AND NOT EXISTS (SELECT 1 FROM messages m
                               WHERE m.session_id = a.session_id AND m.attachment_id = a.id)
               AND NOT EXISTS (SELECT 1 FROM scheduled_messages s
                               WHERE s.session_id = a.session_id AND s.attachment_id = a.id
                                 AND s.state = 'pending')
             ORDER BY a.id
             LIMIT $4
             FOR UPDATE SKIP LOCKED)
         RETURNING id, storage_key",
    )
    .bind::<Uuid, _>(after)
    .bind::<Uuid, _>(below)
    .bind::<Timestamptz, _>(created_before)
    .bind::<BigInt, _>(limit)
    .load::<Swept>(conn)
    .map(|mut swept| {
        swept.sort_by_key(|s| s.id);
        swept
    })
}

/// Which of `keys` belong to a stored attachment.
pub fn stored_keys(conn: &mut PgConnection, keys: &[String]) -> QueryResult<Vec<String>> {
    attachments::table
        .filter(attachments::storage_key.eq_any(keys))
        .select(attachments::storage_key)
        .load(conn)
}
