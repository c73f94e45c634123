//! Uploaded files: the metadata row. The bytes live on disk under the attachment
//! directory, named by `storage_key`, which is random so that no name a client chose
//! ever reaches the file system.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::{attachments, messages};
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

pub fn insert(conn: &mut PgConnection, attachment: &Attachment) -> QueryResult<Attachment> {
    diesel::insert_into(attachments::table)
        .values(attachment)
        .returning(Attachment::as_returning())
        .get_result(conn)
}

pub fn find(conn: &mut PgConnection, id: AttachmentId) -> QueryResult<Option<Attachment>> {
    attachments::table
        .find(id)
        .select(Attachment::as_select())
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
