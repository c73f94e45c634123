//! The append-only audit trail of what happened to each session and who did it.

use diesel::prelude::*;

use super::schema::session_events;
use crate::domain::{ParticipantType, SessionEvent, SessionId};

pub fn record(
    conn: &mut PgConnection,
    session: SessionId,
    event: SessionEvent,
    actor: Option<(ParticipantType, Option<uuid::Uuid>)>,
    data: serde_json::Value,
) -> QueryResult<()> {
    diesel::insert_into(session_events::table)
        .values((
            session_events::session_id.eq(session),
            session_events::event.eq(event),
            session_events::actor_type.eq(actor.map(|(kind, _)| kind)),
            session_events::actor_id.eq(actor.and_then(|(_, id)| id)),
            session_events::data.eq(data),
        ))
        .execute(conn)?;
    Ok(())
}
