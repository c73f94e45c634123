//! `GET /api/v1/sessions/{id}/scheduled` (SPEC section 10): a session's scheduled
//! messages, for the specialists the session is or was assigned to and for admins.
//! Scheduling and unscheduling happen over the WebSocket (`message.send` with `send_at`,
//! `message.unschedule`).

use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::access;
use crate::auth::Caller;
use crate::db;
use crate::domain::SessionId;
use crate::error::{Error, ErrorResponse, Result};
use crate::protocol::objects::ScheduledMessage;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct ScheduledList {
    /// By `send_at`, earliest first.
    pub scheduled: Vec<ScheduledMessage>,
}

/// The session's scheduled messages: pending, sent and cancelled.
#[utoipa::path(
    operation_id = "list_scheduled_messages",
    context_path = "/api/v1",
    tag = "sessions",
    params(("id" = SessionId, Path)),
    responses(
        (status = 200, body = ScheduledList),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not a specialist of the session, nor an admin",
            body = ErrorResponse),
        (status = 404, description = "No such session", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[get("/sessions/{id}/scheduled")]
async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<SessionId>,
) -> Result<HttpResponse> {
    // Visitors and bots are refused before anything is looked up.
    caller.require_staff()?;
    let id = id.into_inner();
    let rows = state
        .db
        .run(move |conn| {
            db::sessions::find(conn, id)?.ok_or_else(|| Error::not_found("no such session"))?;
            access::authorize_workspace_on(conn, id, &caller)?;
            Ok(db::scheduled_messages::for_session(conn, id)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(ScheduledList {
        scheduled: rows.into_iter().map(ScheduledMessage::from).collect(),
    }))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list);
}
