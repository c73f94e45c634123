//! Admin management of specialists: create, list, change (skills, languages, capacity,
//! role, disabled). Disabling refuses the specialist's tokens on their next request.

use actix_web::{get, patch, post, web, HttpResponse};
use actix_ws::{CloseCode, CloseReason};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::later::Later;
use crate::accounts::{self, SpecialistInput};
use crate::actors::connection::SIGN_IN_AGAIN;
use crate::actors::connections::Peer;
use crate::actors::messages::dispatcher::SpecialistGone;
use crate::actors::messages::specialist::ProfileChanged;
use crate::auth::Caller;
use crate::db;
use crate::domain::inputs::{languages, required_text, skills};
use crate::domain::{Role, SpecialistId};
use crate::error::{Error, ErrorResponse, Result};
use crate::protocol::objects::Specialist;
use crate::routing::SpecialistState;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
struct SpecialistBody {
    specialist: Specialist,
}

#[derive(Serialize, ToSchema)]
struct SpecialistList {
    specialists: Vec<Specialist>,
}

/// Creates a specialist or admin account.
#[utoipa::path(
    operation_id = "create_specialist",
    context_path = "/api/v1",
    tag = "admin",
    request_body = SpecialistInput,
    responses(
        (status = 201, body = SpecialistBody),
        (status = 400, description = "Invalid body", body = ErrorResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Admins only", body = ErrorResponse),
        (status = 409, description = "The e-mail is taken", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[post("/specialists")]
async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    body: Later<web::Json<SpecialistInput>>,
) -> Result<HttpResponse> {
    caller.require_admin()?;
    let body = body.take()?.into_inner();
    let checked = accounts::check_specialist(body)?;
    // Counted with the logins' hashes, so no burst of them starves the server.
    let hash = state.logins.hash(checked.password().to_owned()).await?;
    let new = checked.with_hash(hash);
    let specialist = state
        .db
        .run(move |conn| accounts::insert_specialist(conn, &new))
        .await?;
    log::info!("specialist {} created by {}", specialist.id, caller);
    Ok(HttpResponse::Created().json(SpecialistBody {
        specialist: Specialist::from(specialist),
    }))
}

/// Every specialist and admin.
#[utoipa::path(
    operation_id = "list_specialists",
    context_path = "/api/v1",
    tag = "admin",
    responses(
        (status = 200, body = SpecialistList),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Admins only", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[get("/specialists")]
async fn list(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse> {
    caller.require_admin()?;
    let rows = state
        .db
        .run(|conn| Ok(db::specialists::list(conn)?))
        .await?;
    let specialists: Vec<Specialist> = rows.into_iter().map(Specialist::from).collect();
    Ok(HttpResponse::Ok().json(SpecialistList { specialists }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ChangeSpecialist {
    name: Option<String>,
    password: Option<String>,
    role: Option<Role>,
    skills: Option<Vec<String>>,
    languages: Option<Vec<String>>,
    max_concurrent_chats: Option<i32>,
    disabled: Option<bool>,
}

/// Changes a specialist's profile, role or password, or disables them.
#[utoipa::path(
    operation_id = "change_specialist",
    context_path = "/api/v1",
    tag = "admin",
    params(("id" = SpecialistId, Path)),
    request_body = ChangeSpecialist,
    responses(
        (status = 200, body = SpecialistBody),
        (status = 400, description = "Invalid body", body = ErrorResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Admins only", body = ErrorResponse),
        (status = 404, description = "No such specialist", body = ErrorResponse),
        (status = 409, description = "Admins cannot disable themselves", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[patch("/specialists/{id}")]
async fn change(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<SpecialistId>,
    body: Later<web::Json<ChangeSpecialist>>,
) -> Result<HttpResponse> {
    caller.require_admin()?;
    let id = id.into_inner();
    let body = body.take()?.into_inner();
    if body.disabled == Some(true) && caller.staff() == Some(id) {
        return Err(Error::conflict("admins cannot disable themselves"));
    }
    let password_hash = match body.password {
        Some(password) => {
            accounts::check_password(&password)?;
            // Counted with the logins' hashes, so no burst of them starves the server.
            Some(state.logins.hash(password).await?)
        }
        None => None,
    };
    let changes = db::specialists::SpecialistChanges {
        name: body
            .name
            .map(|n| required_text("name", &n, 100))
            .transpose()?,
        password_hash,
        role: body.role.map(accounts::check_staff_role).transpose()?,
        skills: body.skills.map(|s| skills("skills", &s)).transpose()?,
        languages: body
            .languages
            .map(|l| languages("languages", &l))
            .transpose()?,
        max_concurrent_chats: body
            .max_concurrent_chats
            .map(accounts::check_capacity)
            .transpose()?,
        disabled_at: body.disabled.map(|disabled| disabled.then(Utc::now)),
    };
    let (before, updated) = state
        .db
        .run(move |conn| {
            let unchanged = changes.name.is_none()
                && changes.password_hash.is_none()
                && changes.role.is_none()
                && changes.skills.is_none()
                && changes.languages.is_none()
                && changes.max_concurrent_chats.is_none()
                && changes.disabled_at.is_none();
            let before = db::specialists::find(conn, id)?
                .ok_or_else(|| Error::not_found("no such specialist"))?;
            let after = if unchanged {
                Some(before.clone())
            } else {
                db::specialists::update(conn, id, &changes)?
            };
            Ok((
                before,
                after.ok_or_else(|| Error::not_found("no such specialist"))?,
            ))
        })
        .await?;
    log::info!("specialist {id} changed by {}", caller);
    let disabled = before.disabled_at.is_none() && updated.disabled_at.is_some();
    let demoted = before.role == Role::Admin && updated.role != Role::Admin;
    if disabled || demoted {
        // Their open sockets were opened with rights they no longer have: they sign in
        // again (a disabled specialist cannot).
        let reason = if disabled {
            "account disabled"
        } else {
            "role changed"
        };
        state.connections.close_peer(
            Peer::specialist(id.0),
            CloseReason {
                code: CloseCode::Other(SIGN_IN_AGAIN),
                description: Some(reason.to_owned()),
            },
        );
    }
    if disabled {
        // No more offers, and their chats go back to the queue now, as when a console
        // has been gone past the grace period.
        state.dispatcher.do_send(SpecialistGone { id, node: None });
    }
    // A console that is open routes with the new skills and capacity at once.
    if let Some(actor) = state.specialists.get(id) {
        actor.do_send(ProfileChanged(SpecialistState::new(
            id,
            updated.name.clone(),
            updated.skills.clone(),
            updated.languages.clone(),
            updated.max_concurrent_chats.max(0) as usize,
        )));
    }
    Ok(HttpResponse::Ok().json(SpecialistBody {
        specialist: Specialist::from(updated),
    }))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(create).service(list).service(change);
}
