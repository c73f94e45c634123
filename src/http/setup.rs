//! `/api/v1/setup?token=…`: the first admin, created through the one-time link that a
//! server on a database without an admin logs (see `crate::first_run`). The link is the
//! only authorization: without a working one, the answer is 404 whatever the body holds,
//! and no password is hashed.

use actix_web::{get, post, web, HttpResponse};
use diesel::Connection;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::later::Later;
use crate::accounts::{self, SpecialistInput};
use crate::db;
use crate::domain::Role;
use crate::error::{Error, ErrorResponse, Result};
use crate::first_run::SetupToken;
use crate::protocol::objects::Specialist;
use crate::state::AppState;

#[derive(Deserialize, IntoParams)]
struct SetupQuery {
    /// The token of the setup link.
    token: Option<String>,
}

impl SetupQuery {
    fn token(query: Later<web::Query<SetupQuery>>) -> Result<SetupToken> {
        let query = query.take().map_err(|_| dead_link())?;
        SetupToken::parse(query.token.as_deref().unwrap_or_default()).map_err(|_| dead_link())
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct FirstAdmin {
    email: String,
    name: String,
    password: String,
}

#[derive(Serialize, ToSchema)]
struct AdminCreated {
    specialist: Specialist,
}

fn dead_link() -> Error {
    Error::not_found("this setup link does not work: it was used, or an admin exists already")
}

/// Whether the setup link still works (the page asks before showing its form).
#[utoipa::path(
    operation_id = "check_setup_link",
    context_path = "/api/v1",
    tag = "identities",
    params(SetupQuery),
    responses(
        (status = 204, description = "The link works"),
        (status = 404, description = "No such link, or it was used, or an admin exists",
            body = ErrorResponse),
    )
)]
#[get("/setup")]
async fn check(
    state: web::Data<AppState>,
    query: Later<web::Query<SetupQuery>>,
) -> Result<HttpResponse> {
    let hash = SetupQuery::token(query)?.sha256();
    let valid = state
        .db
        .run(move |conn| Ok(db::setup_links::is_valid(conn, &hash)?))
        .await?;
    if !valid {
        return Err(dead_link());
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Creates the first admin through the setup link, which then stops working.
#[utoipa::path(
    operation_id = "create_first_admin",
    context_path = "/api/v1",
    tag = "identities",
    params(SetupQuery),
    request_body = FirstAdmin,
    responses(
        (status = 201, body = AdminCreated),
        (status = 400, description = "Invalid body", body = ErrorResponse),
        (status = 404, description = "No such link, or it was used, or an admin exists",
            body = ErrorResponse),
        (status = 409, description = "The e-mail is taken", body = ErrorResponse),
    )
)]
#[post("/setup")]
async fn create(
    state: web::Data<AppState>,
    query: Later<web::Query<SetupQuery>>,
    body: Later<web::Json<FirstAdmin>>,
) -> Result<HttpResponse> {
    let hash = SetupQuery::token(query)?.sha256();
    let lookup = hash.clone();
    let valid = state
        .db
        .run(move |conn| Ok(db::setup_links::is_valid(conn, &lookup)?))
        .await?;
    if !valid {
        return Err(dead_link());
    }
    let body = body.take()?.into_inner();
    let checked = accounts::check_specialist(SpecialistInput {
        email: body.email,
        name: body.name,
        password: body.password,
        role: Some(Role::Admin),
        skills: Vec::new(),
        languages: None,
        max_concurrent_chats: None,
    })?;
    let password_hash = state.logins.hash(checked.password().to_owned()).await?;
    let new = checked.with_hash(password_hash);
    // Checked again where the admin is written: two uses of links at once take turns.
    let admin = state
        .db
        .run(move |conn| {
            conn.transaction(|conn| {
                if !db::setup_links::consume(conn, &hash)? {
                    return Err(dead_link());
                }
                accounts::insert_specialist(conn, &new)
            })
        })
        .await?;
    log::info!("first admin {} created through the setup link", admin.id);
    Ok(HttpResponse::Created().json(AdminCreated {
        specialist: Specialist::from(admin),
    }))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(check).service(create);
}
