//! Canned responses (SPEC section 10): snippets specialists insert with `/` in the
//! console. A specialist manages their own; shared ones (no owner) are managed by admins
//! only and seen by everyone. Another specialist's own response is answered 404 on every
//! call, as if it did not exist, so ids leak nothing.
//!
//! Rendering fills `{{visitor.name}}`, `{{specialist.name}}` and `{{session.number}}` for
//! a session the caller may see; the client sends the result as an ordinary message.

use actix_web::{delete, get, patch, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::later::Later;
use crate::access;
use crate::auth::Caller;
use crate::db::{self, canned_responses::CannedResponseChanges};
use crate::domain::inputs::{self, required_text, shortcut};
use crate::domain::{CannedResponseId, SessionId, SpecialistId};
use crate::error::{Error, ErrorResponse, Result};
use crate::placeholders::{self, Placeholders};
use crate::state::AppState;

const TITLE_MAX_CHARS: usize = 200;

/// A canned response as its users see it.
#[derive(Serialize, ToSchema)]
pub struct CannedResponse {
    pub id: CannedResponseId,
    pub shortcut: String,
    pub title: String,
    /// May contain `{{visitor.name}}`, `{{specialist.name}}` and `{{session.number}}`.
    pub body: String,
    /// Shared with every specialist (managed by admins) rather than the caller's own.
    pub shared: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<db::canned_responses::CannedResponse> for CannedResponse {
    fn from(row: db::canned_responses::CannedResponse) -> Self {
        Self {
            id: row.id,
            shared: row.owner_id.is_none(),
            shortcut: row.shortcut,
            title: row.title,
            body: row.body,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CannedResponseBody {
    pub canned_response: CannedResponse,
}

#[derive(Serialize, ToSchema)]
pub struct CannedResponseList {
    pub canned_responses: Vec<CannedResponse>,
}

#[derive(Serialize, ToSchema)]
pub struct RenderedBody {
    /// The text with its placeholders filled in, ready to send.
    pub body: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCannedResponse {
    /// `[a-z0-9_-]{1,32}`, unique among the caller's own (or among the shared ones).
    pub shortcut: String,
    /// 1 to 200 characters.
    pub title: String,
    /// 1 to 4000 characters.
    pub body: String,
    /// Shared with everyone; admins only.
    #[serde(default)]
    pub shared: bool,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeCannedResponse {
    pub shortcut: Option<String>,
    pub title: Option<String>,
    pub body: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Matches a shortcut prefix, or words of the title and body.
    pub q: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RenderQuery {
    /// The conversation whose visitor, specialist and number fill the placeholders.
    pub session_id: SessionId,
}

/// The caller's own and the shared canned responses, by shortcut.
#[utoipa::path(
    operation_id = "list_canned_responses",
    context_path = "/api/v1",
    tag = "workspace",
    params(ListQuery),
    responses(
        (status = 200, body = CannedResponseList),
        (status = 400, description = "Invalid query", body = ErrorResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Specialists and admins only", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[get("/canned-responses")]
async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    query: Later<web::Query<ListQuery>>,
) -> Result<HttpResponse> {
    let viewer = caller.require_staff()?;
    let q = query.take()?.into_inner().q;
    if q.as_deref().is_some_and(|q| q.contains('\0')) {
        return Err(Error::bad_request("q: no NUL characters"));
    }
    let rows = state
        .db
        .run(move |conn| Ok(db::canned_responses::list(conn, viewer, q.as_deref())?))
        .await?;
    Ok(HttpResponse::Ok().json(CannedResponseList {
        canned_responses: rows.into_iter().map(CannedResponse::from).collect(),
    }))
}

/// Creates one of the caller's own responses, or a shared one (admins).
#[utoipa::path(
    operation_id = "create_canned_response",
    context_path = "/api/v1",
    tag = "workspace",
    request_body = NewCannedResponse,
    responses(
        (status = 201, body = CannedResponseBody),
        (status = 400, description = "Invalid body", body = ErrorResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Specialists and admins only; shared: admins only",
            body = ErrorResponse),
        (status = 409, description = "The shortcut is taken", body = ErrorResponse),
        (status = 413, description = "Body too large", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[post("/canned-responses")]
async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    body: Later<web::Json<NewCannedResponse>>,
) -> Result<HttpResponse> {
    let owner = caller.require_staff()?;
    let body = body.take()?.into_inner();
    if body.shared {
        caller.require_admin()?;
    }
    let now = Utc::now();
    let new = db::canned_responses::CannedResponse {
        id: CannedResponseId::new(),
        owner_id: (!body.shared).then_some(owner),
        shortcut: shortcut(&body.shortcut)?,
        title: required_text("title", &body.title, TITLE_MAX_CHARS)?,
        body: inputs::body_text(Some(&body.body))?,
        created_at: now,
        updated_at: now,
    };
    let row = state
        .db
        .run(move |conn| db::canned_responses::insert(conn, &new).map_err(shortcut_taken))
        .await?;
    log::info!("canned response {} created by {}", row.id, caller);
    Ok(HttpResponse::Created().json(CannedResponseBody {
        canned_response: row.into(),
    }))
}

/// One canned response.
#[utoipa::path(
    operation_id = "get_canned_response",
    context_path = "/api/v1",
    tag = "workspace",
    params(("id" = CannedResponseId, Path)),
    responses(
        (status = 200, body = CannedResponseBody),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Specialists and admins only", body = ErrorResponse),
        (status = 404, description = "No such response (or another specialist's own)",
            body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[get("/canned-responses/{id}")]
async fn show(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<CannedResponseId>,
) -> Result<HttpResponse> {
    let viewer = caller.require_staff()?;
    let id = id.into_inner();
    let row = state.db.run(move |conn| visible(conn, viewer, id)).await?;
    Ok(HttpResponse::Ok().json(CannedResponseBody {
        canned_response: row.into(),
    }))
}

/// Changes the shortcut, title or body; shared responses only by admins.
#[utoipa::path(
    operation_id = "change_canned_response",
    context_path = "/api/v1",
    tag = "workspace",
    params(("id" = CannedResponseId, Path)),
    request_body = ChangeCannedResponse,
    responses(
        (status = 200, body = CannedResponseBody),
        (status = 400, description = "Invalid body", body = ErrorResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Shared responses: admins only", body = ErrorResponse),
        (status = 404, description = "No such response (or another specialist's own)",
            body = ErrorResponse),
        (status = 409, description = "The shortcut is taken", body = ErrorResponse),
        (status = 413, description = "Body too large", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[patch("/canned-responses/{id}")]
async fn change(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<CannedResponseId>,
    body: Later<web::Json<ChangeCannedResponse>>,
) -> Result<HttpResponse> {
    let viewer = caller.require_staff()?;
    let body = body.take()?.into_inner();
    let changes = CannedResponseChanges {
        shortcut: body.shortcut.as_deref().map(shortcut).transpose()?,
        title: body
            .title
            .as_deref()
            .map(|title| required_text("title", title, TITLE_MAX_CHARS))
            .transpose()?,
        body: body
            .body
            .as_deref()
            .map(|raw| inputs::body_text(Some(raw)))
            .transpose()?,
        updated_at: Utc::now(),
    };
    let id = id.into_inner();
    let row = state
        .db
        .run(move |conn| {
            let found = visible(conn, viewer, id)?;
            may_manage(&caller, &found)?;
            db::canned_responses::update(conn, id, &changes).map_err(shortcut_taken)
        })
        .await?;
    Ok(HttpResponse::Ok().json(CannedResponseBody {
        canned_response: row.into(),
    }))
}

/// Deletes a canned response; shared ones only by admins.
#[utoipa::path(
    operation_id = "delete_canned_response",
    context_path = "/api/v1",
    tag = "workspace",
    params(("id" = CannedResponseId, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Shared responses: admins only", body = ErrorResponse),
        (status = 404, description = "No such response (or another specialist's own)",
            body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[delete("/canned-responses/{id}")]
async fn remove(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<CannedResponseId>,
) -> Result<HttpResponse> {
    let viewer = caller.require_staff()?;
    let id = id.into_inner();
    state
        .db
        .run(move |conn| {
            let found = visible(conn, viewer, id)?;
            may_manage(&caller, &found)?;
            Ok(db::canned_responses::delete(conn, id)?)
        })
        .await?;
    log::info!("canned response {id} deleted by {}", caller);
    Ok(HttpResponse::NoContent().finish())
}

/// The response's body filled in for a conversation the caller may see.
#[utoipa::path(
    operation_id = "render_canned_response",
    context_path = "/api/v1",
    tag = "workspace",
    params(("id" = CannedResponseId, Path), RenderQuery),
    responses(
        (status = 200, body = RenderedBody),
        (status = 400, description = "Invalid query", body = ErrorResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not one of the caller's conversations",
            body = ErrorResponse),
        (status = 404, description = "No such response or session", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[get("/canned-responses/{id}/render")]
async fn render(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<CannedResponseId>,
    query: Later<web::Query<RenderQuery>>,
) -> Result<HttpResponse> {
    let viewer = caller.require_staff()?;
    let id = id.into_inner();
    let session = query.take()?.into_inner().session_id;
    let body = state
        .db
        .run(move |conn| {
            let response = visible(conn, viewer, id)?;
            let view = db::sessions::find_view(conn, session)?
                .ok_or_else(|| Error::not_found("no such session"))?;
            access::authorize_workspace_on(conn, session, &caller)?;
            let values = Placeholders {
                visitor_name: view.visitor.name,
                specialist_name: view.specialist_name,
                session_number: db::sessions::display_number(view.row.number),
            };
            Ok(placeholders::render(&response.body, &values))
        })
        .await?;
    Ok(HttpResponse::Ok().json(RenderedBody { body }))
}

fn visible(
    conn: &mut diesel::PgConnection,
    viewer: SpecialistId,
    id: CannedResponseId,
) -> Result<db::canned_responses::CannedResponse> {
    db::canned_responses::find(conn, viewer, id)?
        .ok_or_else(|| Error::not_found("no such canned response"))
}

/// The caller's own responses are theirs to change; shared ones are the admins'.
fn may_manage(caller: &Caller, response: &db::canned_responses::CannedResponse) -> Result<()> {
    if response.owner_id.is_none() && !caller.is_admin() {
        return Err(Error::forbidden(
            "only admins change or delete shared canned responses",
        ));
    }
    Ok(())
}

fn shortcut_taken(error: diesel::result::Error) -> Error {
    match error {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        ) => Error::conflict("shortcut: already in use"),
        other => other.into(),
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list)
        .service(create)
        .service(show)
        .service(change)
        .service(remove)
        .service(render);
}
