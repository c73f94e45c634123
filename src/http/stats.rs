//! `GET /api/v1/stats`: live counts and last-hour averages. Session figures are computed
//! by Postgres (`db::stats`); specialist statuses live only in the Dispatcher's roster,
//! so they come from there.

use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::actors::messages::dispatcher::CountSpecialists;
use crate::auth::Caller;
use crate::db;
use crate::error::{Error, ErrorResponse, Result};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct Stats {
    /// Sessions waiting in the queue now.
    pub waiting: i64,
    /// Sessions with a specialist now.
    pub active: i64,
    /// Messages left while nobody could answer, not ended yet (SPEC section 14).
    pub offline: i64,
    pub specialists: SpecialistsByStatus,
    pub last_hour: LastHour,
}

#[derive(Serialize, ToSchema)]
pub struct SpecialistsByStatus {
    pub online: usize,
    pub away: usize,
    /// Enabled specialists who are neither online nor away.
    pub offline: usize,
}

/// Averages over the last hour, in seconds; null when nothing happened.
#[derive(Serialize, ToSchema)]
pub struct LastHour {
    /// Sessions created.
    pub sessions: i64,
    /// From joining the queue to a specialist taking the session; messages left wait
    /// for no queue and do not count.
    pub avg_wait_secs: Option<f64>,
    /// From assignment to the specialist's first message.
    pub avg_first_response_secs: Option<f64>,
    /// From creation to end, of sessions that ended.
    pub avg_duration_secs: Option<f64>,
    /// Ratings (1 to 5) given.
    pub avg_rating: Option<f64>,
}

#[utoipa::path(
    operation_id = "get_stats",
    context_path = "/api/v1",
    tag = "queue",
    responses(
        (status = 200, body = Stats),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Visitors may not see statistics", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[get("/stats")]
async fn stats(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse> {
    if let Caller::Visitor(_) = caller {
        return Err(Error::forbidden("statistics are for staff and bots"));
    }
    let figures = state
        .db
        .run(|conn| Ok(db::stats::session_figures(conn)?))
        .await?;
    let counts = state
        .dispatcher
        .send(CountSpecialists)
        .await
        .map_err(Error::internal)??;
    let enabled = usize::try_from(figures.specialists_enabled).unwrap_or_default();
    Ok(HttpResponse::Ok().json(Stats {
        waiting: figures.waiting,
        active: figures.active,
        offline: figures.offline,
        specialists: SpecialistsByStatus {
            online: counts.online,
            away: counts.away,
            offline: enabled.saturating_sub(counts.online + counts.away),
        },
        last_hour: LastHour {
            sessions: figures.created,
            avg_wait_secs: figures.wait_secs,
            avg_first_response_secs: figures.first_response_secs,
            avg_duration_secs: figures.duration_secs,
            avg_rating: figures.rating,
        },
    }))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(stats);
}
