//! How far each reader has read, per session. Cursors only move forward: the upsert keeps
//! the larger value even if two updates race.

use diesel::prelude::*;

use super::schema::read_cursors;
use crate::domain::{ParticipantType, SessionId};

pub fn advance(
    conn: &mut PgConnection,
    session: SessionId,
    reader: ParticipantType,
    reader_id: uuid::Uuid,
    seq: i32,
) -> QueryResult<()> {
    diesel::sql_query(
        "INSERT INTO read_cursors (session_id, reader_type, reader_id, seq) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (session_id, reader_type, reader_id) DO UPDATE \
         SET seq = GREATEST(read_cursors.seq, EXCLUDED.seq), updated_at = now()",
    )
    .bind::<diesel::sql_types::Uuid, _>(session)
    .bind::<diesel::sql_types::Text, _>(reader)
    .bind::<diesel::sql_types::Uuid, _>(reader_id)
    .bind::<diesel::sql_types::Int4, _>(seq)
    .execute(conn)?;
    Ok(())
}

pub fn for_session(
    conn: &mut PgConnection,
    session: SessionId,
) -> QueryResult<Vec<(ParticipantType, uuid::Uuid, i32)>> {
    read_cursors::table
        .filter(read_cursors::session_id.eq(session))
        .select((
            read_cursors::reader_type,
            read_cursors::reader_id,
            read_cursors::seq,
        ))
        .load(conn)
}
