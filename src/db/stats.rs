//! Figures for `GET /api/v1/stats`, computed by Postgres in one statement so that they
//! are consistent with each other and cost one round trip however many sessions exist.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Nullable};

#[derive(Debug, Clone, QueryableByName)]
pub struct SessionFigures {
    #[diesel(sql_type = BigInt)]
    pub waiting: i64,
    #[diesel(sql_type = BigInt)]
    pub active: i64,
    /// Messages left while nobody could answer, not yet ended.
    #[diesel(sql_type = BigInt)]
    pub offline: i64,
    #[diesel(sql_type = BigInt)]
    pub specialists_enabled: i64,
    /// Sessions created in the last hour.
    #[diesel(sql_type = BigInt)]
    pub created: i64,
    /// Seconds from queueing to assignment, of sessions assigned in the last hour.
    #[diesel(sql_type = Nullable<Double>)]
    pub wait_secs: Option<f64>,
    /// Seconds from assignment to the specialist's first message, of first responses in
    /// the last hour.
    #[diesel(sql_type = Nullable<Double>)]
    pub first_response_secs: Option<f64>,
    /// Seconds from creation to end, of sessions ended in the last hour.
    #[diesel(sql_type = Nullable<Double>)]
    pub duration_secs: Option<f64>,
    /// Ratings given in the last hour.
    #[diesel(sql_type = Nullable<Double>)]
    pub rating: Option<f64>,
}

pub fn session_figures(conn: &mut PgConnection) -> QueryResult<SessionFigures> {
    diesel::sql_query(
        "SELECT \
           count(*) FILTER (WHERE status = 'waiting') AS waiting, \
           count(*) FILTER (WHERE status = 'active') AS active, \
           count(*) FILTER (WHERE status = 'offline') AS offline, \
           (SELECT count(*) FROM specialists WHERE disabled_at IS NULL) AS specialists_enabled, \
           count(*) FILTER (WHERE created_at > now() - interval '1 hour') AS created, \
           (avg(extract(epoch FROM assigned_at - queued_at)) \
             FILTER (WHERE assigned_at > now() - interval '1 hour' \
               AND left_message_at IS NULL))::float8 AS wait_secs, \
           (avg(extract(epoch FROM first_response_at - created_at)) \
             FILTER (WHERE first_response_at > now() - interval '1 hour'))::float8 \
             AS first_response_secs, \
           (avg(extract(epoch FROM ended_at - created_at)) \
             FILTER (WHERE status = 'ended' AND ended_at > now() - interval '1 hour'))::float8 \
             AS duration_secs, \
           (avg(rating) FILTER (WHERE rated_at > now() - interval '1 hour'))::float8 AS rating \
         FROM chat_sessions",
    )
    .get_result(conn)
}
