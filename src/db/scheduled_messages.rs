//! Scheduled messages: a specialist's message stored now and sent later. A row leaves
//! `pending` exactly once, by a conditional update, so sending and unscheduling can race
//! without both winning; sending marks it `sent` in the transaction that inserts the
//! message.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::scheduled_messages;
use crate::domain::{AttachmentId, ScheduledId, ScheduledState, SessionId, SpecialistId};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = scheduled_messages)]
pub struct ScheduledMessage {
    pub id: ScheduledId,
    pub session_id: SessionId,
    pub specialist_id: SpecialistId,
    pub body: String,
    pub attachment_id: Option<AttachmentId>,
    pub client_msg_id: String,
    pub send_at: DateTime<Utc>,
    pub state: ScheduledState,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub message_seq: Option<i32>,
}

/// Stores a new pending row, or returns the row the same request stored before (same
/// session, specialist and `client_msg_id`), so a resent request schedules nothing new.
pub fn insert_or_find(
    conn: &mut PgConnection,
    row: &ScheduledMessage,
) -> QueryResult<ScheduledMessage> {
    let inserted = diesel::insert_into(scheduled_messages::table)
        .values(row)
        .on_conflict_do_nothing()
        .returning(ScheduledMessage::as_returning())
        .get_result(conn)
        .optional()?;
    match inserted {
        Some(row) => Ok(row),
        None => scheduled_messages::table
            .filter(
                scheduled_messages::session_id
                    .eq(row.session_id)
                    .and(scheduled_messages::specialist_id.eq(row.specialist_id))
                    .and(scheduled_messages::client_msg_id.eq(&row.client_msg_id)),
            )
            .select(ScheduledMessage::as_select())
            .first(conn),
    }
}

pub fn find(conn: &mut PgConnection, id: ScheduledId) -> QueryResult<Option<ScheduledMessage>> {
    scheduled_messages::table
        .find(id)
        .select(ScheduledMessage::as_select())
        .first(conn)
        .optional()
}

/// Every pending row: what the scheduler waits for after a start.
pub fn all_pending(
    conn: &mut PgConnection,
) -> QueryResult<Vec<(ScheduledId, SessionId, DateTime<Utc>)>> {
    scheduled_messages::table
        .filter(scheduled_messages::state.eq(ScheduledState::Pending))
        .select((
            scheduled_messages::id,
            scheduled_messages::session_id,
            scheduled_messages::send_at,
        ))
        .load(conn)
}

/// A session's scheduled messages, by time.
pub fn for_session(
    conn: &mut PgConnection,
    session: SessionId,
) -> QueryResult<Vec<ScheduledMessage>> {
    scheduled_messages::table
        .filter(scheduled_messages::session_id.eq(session))
        .order((
            scheduled_messages::send_at.asc(),
            scheduled_messages::id.asc(),
        ))
        .select(ScheduledMessage::as_select())
        .load(conn)
}

/// Marks the row sent as message `seq` if it is still pending; whether it was.
pub fn mark_sent(
    conn: &mut PgConnection,
    id: ScheduledId,
    seq: i32,
    at: DateTime<Utc>,
) -> QueryResult<bool> {
    let sent = diesel::update(
        scheduled_messages::table
            .find(id)
            .filter(scheduled_messages::state.eq(ScheduledState::Pending)),
    )
    .set((
        scheduled_messages::state.eq(ScheduledState::Sent),
        scheduled_messages::sent_at.eq(at),
        scheduled_messages::message_seq.eq(seq),
    ))
    .execute(conn)?;
    Ok(sent > 0)
}

/// Cancels the row if it is still pending; whether it was.
pub fn cancel(conn: &mut PgConnection, id: ScheduledId) -> QueryResult<bool> {
    let cancelled = diesel::update(
        scheduled_messages::table
            .find(id)
            .filter(scheduled_messages::state.eq(ScheduledState::Pending)),
    )
    .set((
        scheduled_messages::state.eq(ScheduledState::Cancelled),
        scheduled_messages::cancelled_at.eq(Utc::now()),
    ))
    .execute(conn)?;
    Ok(cancelled > 0)
}

/// Cancels every pending row of a session (it has ended); returns their ids.
pub fn cancel_for_session(
    conn: &mut PgConnection,
    session: SessionId,
) -> QueryResult<Vec<ScheduledId>> {
    diesel::update(
        scheduled_messages::table.filter(
            scheduled_messages::session_id
                .eq(session)
                .and(scheduled_messages::state.eq(ScheduledState::Pending)),
        ),
    )
    .set((
        scheduled_messages::state.eq(ScheduledState::Cancelled),
        scheduled_messages::cancelled_at.eq(Utc::now()),
    ))
    .returning(scheduled_messages::id)
    .get_results(conn)
}
