//! The specialist workspace around one conversation (SPEC section 10): its tags, archiving
//! it once it is over, and its analytics. For admins and the specialists the session is
//! or was assigned to; visitors and bots see none of it (403).
//!
//! Tags and archiving change the session, so they go through its `ChatSession` actor, the
//! single writer that also keeps the in-memory view session objects are built from.
//! Analytics only read committed rows.

use actix_web::{get, post, put, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::later::Later;
use super::sessions::unexpected;
use super::sessions::SessionBody;
use crate::access;
use crate::actors::messages::session::{SetArchived, SetTags};
use crate::actors::reply::Reply;
use crate::auth::Caller;
use crate::conversation::Answer;
use crate::db;
use crate::domain::{inputs, SessionId};
use crate::error::{Error, ErrorResponse, Result};
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagsInput {
    /// `[a-z0-9_-]{1,32}` each (lower-cased), at most 20 different ones.
    pub tags: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TagsBody {
    /// The session's tags now, sorted.
    pub tags: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct MessageCounts {
    pub visitor: i64,
    pub specialist: i64,
    pub bot: i64,
    pub system: i64,
    pub note: i64,
}

/// Times are in seconds, null where they do not apply yet.
#[derive(Serialize, ToSchema)]
pub struct SessionAnalytics {
    /// The messages partitioned by kind and sender (a note counts under `note` only).
    pub messages: MessageCounts,
    /// Queued → assigned.
    pub wait_secs: Option<f64>,
    /// Created → the first specialist message.
    pub first_response_secs: Option<f64>,
    /// Mean time from a visitor message to the next specialist message.
    pub avg_response_secs: Option<f64>,
    /// Created → ended.
    pub duration_secs: Option<f64>,
    pub rating: Option<i16>,
}

/// Replaces the session's tags; every specialist connection in the session hears of it.
#[utoipa::path(
    operation_id = "set_session_tags",
    context_path = "/api/v1",
    tag = "workspace",
    params(("id" = SessionId, Path)),
    request_body = TagsInput,
    responses(
        (status = 200, body = TagsBody),
        (status = 400, description = "Invalid tags", body = ErrorResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not one of the caller's conversations",
            body = ErrorResponse),
        (status = 404, description = "No such session", body = ErrorResponse),
        (status = 413, description = "Body too large", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[put("/sessions/{id}/tags")]
async fn set_tags(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<SessionId>,
    body: Later<web::Json<TagsInput>>,
) -> Result<HttpResponse> {
    // Visitors and bots are refused before their input is looked at.
    caller.require_staff()?;
    let tags = inputs::session_tags(&body.take()?.into_inner().tags)?;
    let (reply, answer) = Reply::channel();
    state.sessions.tell(
        id.into_inner(),
        SetTags {
            caller,
            tags,
            reply,
        },
    );
    match answer.await.map_err(|_| no_answer())?? {
        Answer::Tagged(tags) => Ok(HttpResponse::Ok().json(TagsBody { tags })),
        other => Err(unexpected(other)),
    }
}

/// Archives an ended or abandoned session.
#[utoipa::path(
    operation_id = "archive_session",
    context_path = "/api/v1",
    tag = "workspace",
    params(("id" = SessionId, Path)),
    responses(
        (status = 200, body = SessionBody),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not one of the caller's conversations",
            body = ErrorResponse),
        (status = 404, description = "No such session", body = ErrorResponse),
        (status = 409, description = "The session is still open", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[post("/sessions/{id}/archive")]
async fn archive(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<SessionId>,
) -> Result<HttpResponse> {
    set_archived(&state, caller, id.into_inner(), true).await
}

/// Brings an archived session back into lists and search.
#[utoipa::path(
    operation_id = "unarchive_session",
    context_path = "/api/v1",
    tag = "workspace",
    params(("id" = SessionId, Path)),
    responses(
        (status = 200, body = SessionBody),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not one of the caller's conversations",
            body = ErrorResponse),
        (status = 404, description = "No such session", body = ErrorResponse),
        (status = 409, description = "The session is still open", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[post("/sessions/{id}/unarchive")]
async fn unarchive(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<SessionId>,
) -> Result<HttpResponse> {
    set_archived(&state, caller, id.into_inner(), false).await
}

async fn set_archived(
    state: &AppState,
    caller: Caller,
    id: SessionId,
    archived: bool,
) -> Result<HttpResponse> {
    let (reply, answer) = Reply::channel();
    state.sessions.tell(
        id,
        SetArchived {
            caller,
            archived,
            reply,
        },
    );
    let session = match answer.await.map_err(|_| no_answer())?? {
        Answer::Archived(session) => session,
        other => return Err(unexpected(other)),
    };
    log::info!(
        "session {id}: {} by {caller}",
        if archived { "archived" } else { "unarchived" },
    );
    Ok(HttpResponse::Ok().json(SessionBody { session }))
}

/// How the conversation went: message counts and response times.
#[utoipa::path(
    operation_id = "get_session_analytics",
    context_path = "/api/v1",
    tag = "workspace",
    params(("id" = SessionId, Path)),
    responses(
        (status = 200, body = SessionAnalytics),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not one of the caller's conversations",
            body = ErrorResponse),
        (status = 404, description = "No such session", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[get("/sessions/{id}/analytics")]
async fn analytics(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<SessionId>,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    let (row, figures) = state
        .db
        .run(move |conn| {
            let row =
                db::sessions::find(conn, id)?.ok_or_else(|| Error::not_found("no such session"))?;
            access::authorize_workspace_on(conn, id, &caller)?;
            Ok((row, db::analytics::message_figures(conn, id)?))
        })
        .await?;
    Ok(HttpResponse::Ok().json(SessionAnalytics {
        messages: MessageCounts {
            visitor: figures.visitor,
            specialist: figures.specialist,
            bot: figures.bot,
            system: figures.system,
            note: figures.note,
        },
        wait_secs: row.assigned_at.map(|at| seconds(row.queued_at, at)),
        first_response_secs: row.first_response_at.map(|at| seconds(row.created_at, at)),
        avg_response_secs: figures.avg_response_secs,
        duration_secs: row.ended_at.map(|at| seconds(row.created_at, at)),
        rating: row.rating,
    }))
}

fn seconds(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6
}

fn no_answer() -> Error {
    Error::internal("the session did not answer")
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(set_tags)
        .service(archive)
        .service(unarchive)
        .service(analytics);
}
