//! `POST /api/v1/auth/login`: specialists and admins exchange e-mail and password for a
//! token. An unknown e-mail and a wrong password get the same answer, and cost the same
//! hashing time, so the endpoint does not reveal who has an account.

use actix_web::{post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{hash_password, verify_password};
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
    )
)]
#[post("/auth/login")]
async fn login(state: web::Data<AppState>, body: web::Json<Login>) -> Result<HttpResponse> {
    let Login { email, password } = body.into_inner();
    let email = email.trim().to_lowercase();
    let specialist = state
        .db
        .run(move |conn| {
            // Postgres text cannot hold NUL, and no stored address contains one.
            let found = if email.contains('\0') {
                None
            } else {
                db::specialists::find_by_email(conn, &email)?
            };
            match found {
                Some(s) if verify_password(&password, &s.password_hash) => Ok(Some(s)),
                Some(_) => Ok(None),
                None => {
                    // Spend the time a real verification would have taken.
                    let _ = hash_password(&password);
                    Ok(None)
                }
            }
        })
        .await?
        .ok_or_else(refused)?;
    if specialist.disabled_at.is_some() {
        return Err(refused());
    }
    let token = state.tokens.issue(specialist.id.0, specialist.role)?;
    Ok(HttpResponse::Ok().json(LoggedIn {
        token,
        specialist: Specialist::from(specialist),
    }))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(login);
}
