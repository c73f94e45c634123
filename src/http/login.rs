//! `POST /api/v1/auth/login`: specialists and admins exchange e-mail and password for a
//! token. An unknown e-mail and a wrong password get the same answer, and cost the same
//! hashing time, so the endpoint does not reveal who has an account.
//!
//! Guessing is throttled per account and per client address before any database or
//! hashing work, and the hashing runs a few at a time on a blocking thread without a
//! database connection, so a burst of logins cannot starve the chat (`auth::throttle`).

use actix_web::{post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::client::ClientInfo;
use super::rate_limit::client_key;
use crate::db;
use crate::error::{Error, ErrorResponse, Result};
use crate::protocol::objects::Specialist;
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
struct Login {
    email: String,
    password: String,
}

fn refused() -> Error {
    Error::unauthorized("wrong e-mail or password")
}

#[derive(Serialize, ToSchema)]
struct LoggedIn {
    token: String,
    specialist: Specialist,
}

/// Exchanges a specialist's or admin's e-mail and password for a token.
#[utoipa::path(
    operation_id = "login",
    context_path = "/api/v1",
    tag = "identities",
    request_body = Login,
    responses(
        (status = 200, body = LoggedIn),
        (status = 400, description = "Invalid body", body = ErrorResponse),
        (status = 401, description = "Wrong e-mail or password", body = ErrorResponse),
        (status = 429, description = "Too many failed logins for the account or address",
            body = ErrorResponse,
            headers(("Retry-After" = u64, description = "Seconds until an attempt may pass"))),
    )
)]
#[post("/auth/login")]
async fn login(
    client: ClientInfo,
    state: web::Data<AppState>,
    body: web::Json<Login>,
) -> Result<HttpResponse> {
    let Login { email, password } = body.into_inner();
    let email = email.trim().to_lowercase();
    let attempt = state.logins.admit(&email, client_key(client.ip)).await?;
    // A disabled account is refused like a wrong password, after the same work.
    let specialist = find(&state, email)
        .await?
        .filter(|specialist| specialist.disabled_at.is_none());
    let stored = specialist.as_ref().map(|s| s.password_hash.clone());
    let verified = attempt.verify(password, stored).await?;
    let specialist = specialist.filter(|_| verified).ok_or_else(refused)?;
    let token = state.tokens.issue(specialist.id.0, specialist.role)?;
    Ok(HttpResponse::Ok().json(LoggedIn {
        token,
        specialist: Specialist::from(specialist),
    }))
}

/// The specialist with this (lower-cased) e-mail; the connection is returned at once.
async fn find(state: &AppState, email: String) -> Result<Option<db::specialists::Specialist>> {
    // Postgres text cannot hold NUL, and no stored address contains one.
    if email.contains('\0') {
        return Ok(None);
    }
    state
        .db
        .run(move |conn| Ok(db::specialists::find_by_email(conn, &email)?))
        .await
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(login);
}
