//! Figures of one conversation for `GET /api/v1/sessions/{id}/analytics`: its messages
//! counted by who sent what, and how quickly the specialist side answered. Computed by
//! Postgres from the stored messages on demand; nothing is kept up to date on the chat
//! path for it.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Nullable, Uuid as SqlUuid};

use crate::domain::SessionId;

/// The messages of a session partitioned by kind and sender: a note counts under `note`
/// whoever wrote it, system messages under `system`, everything else under its sender.
#[derive(Debug, Clone, QueryableByName)]
pub struct MessageFigures {
    #[diesel(sql_type = BigInt)]
    pub visitor: i64,
    #[diesel(sql_type = BigInt)]
    pub specialist: i64,
    #[diesel(sql_type = BigInt)]
    pub bot: i64,
    #[diesel(sql_type = BigInt)]
    pub system: i64,
    #[diesel(sql_type = BigInt)]
    pub note: i64,
    /// Mean seconds from a visitor's message to the next specialist message after it
    /// (by `seq`); visitor messages nobody has answered yet do not count.
    #[diesel(sql_type = Nullable<Double>)]
    pub avg_response_secs: Option<f64>,
}

pub fn message_figures(conn: &mut PgConnection, session: SessionId) -> QueryResult<MessageFigures> {
    diesel::sql_query(
        "SELECT \
           count(*) FILTER (WHERE kind IN ('text', 'file') AND sender_type = 'visitor') \
             AS visitor, \
           count(*) FILTER (WHERE kind IN ('text', 'file') AND sender_type = 'specialist') \
             AS specialist, \
           count(*) FILTER (WHERE kind IN ('text', 'file') AND sender_type = 'bot') AS bot, \
           count(*) FILTER (WHERE kind = 'system' \
             OR (kind <> 'note' AND sender_type = 'system')) AS system, \
           count(*) FILTER (WHERE kind = 'note') AS note, \
           (SELECT avg(extract(epoch FROM answer.created_at - asked.created_at))::float8 \
              FROM messages asked \
              CROSS JOIN LATERAL ( \
                SELECT s.created_at FROM messages s \
                WHERE s.session_id = asked.session_id AND s.seq > asked.seq \
                  AND s.sender_type = 'specialist' AND s.kind IN ('text', 'file') \
                ORDER BY s.seq LIMIT 1) answer \
              WHERE asked.session_id = $1 AND asked.sender_type = 'visitor' \
                AND asked.kind IN ('text', 'file')) AS avg_response_secs \
         FROM messages WHERE session_id = $1",
    )
    .bind::<SqlUuid, _>(session.0)
    .get_result(conn)
}
