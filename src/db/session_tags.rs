//! A session's tags (`session_tags`): labels specialists put on conversations. Read when a
//! session view is built and written only through the session's actor, which keeps its
//! in-memory copy in step.

use std::collections::HashMap;

use diesel::prelude::*;

use super::schema::session_tags;
use crate::domain::SessionId;

/// The tags of many sessions in one query, each list sorted; sessions without tags are
/// absent.
pub fn for_sessions(
    conn: &mut PgConnection,
    sessions: &[SessionId],
) -> QueryResult<HashMap<SessionId, Vec<String>>> {
    let rows: Vec<(SessionId, String)> = session_tags::table
        .filter(session_tags::session_id.eq_any(sessions))
        .select((session_tags::session_id, session_tags::tag))
        .order((session_tags::session_id, session_tags::tag.asc()))
        .load(conn)?;
    let mut tags: HashMap<SessionId, Vec<String>> = HashMap::new();
    for (session, tag) in rows {
        tags.entry(session).or_default().push(tag);
    }
    Ok(tags)
}

/// Replaces the session's tags with `tags` (already validated).
pub fn replace(conn: &mut PgConnection, session: SessionId, tags: &[String]) -> QueryResult<()> {
    conn.transaction(|conn| {
        diesel::delete(session_tags::table.filter(session_tags::session_id.eq(session)))
            .execute(conn)?;
        let rows: Vec<_> = tags
            .iter()
            .map(|tag| {
                (
                    session_tags::session_id.eq(session),
                    session_tags::tag.eq(tag),
                )
            })
            .collect();
        diesel::insert_into(session_tags::table)
            .values(&rows)
            .execute(conn)?;
        Ok(())
    })
}
