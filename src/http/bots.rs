//! Admin management of bots: create (the token is shown once), list, revoke.

use actix_web::{delete, get, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::later::Later;
use crate::accounts;
use crate::auth::Caller;
use crate::db;
use crate::domain::BotId;
use crate::error::{Error, ErrorResponse, Result};
use crate::protocol::objects::Bot;
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateBot {
    name: String,
}

#[derive(Serialize, ToSchema)]
struct BotCreated {
    bot: Bot,
    /// Shown once: the bot's API token.
    token: String,
}

#[derive(Serialize, ToSchema)]
struct BotList {
    bots: Vec<Bot>,
}

/// Creates a bot and its API token.
#[utoipa::path(
    operation_id = "create_bot",
    context_path = "/api/v1",
    tag = "admin",
    request_body = CreateBot,
    responses(
        (status = 201, body = BotCreated),
        (status = 400, description = "Invalid body", body = ErrorResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Admins only", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[post("/bots")]
async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    body: Later<web::Json<CreateBot>>,
) -> Result<HttpResponse> {
    caller.require_admin()?;
    let body = body.take()?.into_inner();
    let tokens = state.tokens.clone();
    let (bot, token) = state
        .db
        .run(move |conn| accounts::create_bot(conn, &tokens, &body.name))
        .await?;
    log::info!("bot {} created by {}", bot.id, caller);
    Ok(HttpResponse::Created().json(BotCreated {
        bot: Bot::from(bot),
        token,
    }))
}

/// Every bot, revoked ones included.
#[utoipa::path(
    operation_id = "list_bots",
    context_path = "/api/v1",
    tag = "admin",
    responses(
        (status = 200, body = BotList),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Admins only", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[get("/bots")]
async fn list(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse> {
    caller.require_admin()?;
    let bots: Vec<Bot> = state
        .db
        .run(|conn| Ok(db::bots::list(conn)?))
        .await?
        .into_iter()
        .map(Bot::from)
        .collect();
    Ok(HttpResponse::Ok().json(BotList { bots }))
}

/// Revokes a bot: its tokens stop working at once.
#[utoipa::path(
    operation_id = "revoke_bot",
    context_path = "/api/v1",
    tag = "admin",
    params(("id" = BotId, Path)),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Admins only", body = ErrorResponse),
        (status = 404, description = "No such bot", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[delete("/bots/{id}")]
async fn revoke(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<BotId>,
) -> Result<HttpResponse> {
    caller.require_admin()?;
    let id = id.into_inner();
    state
        .db
        .run(move |conn| db::bots::revoke(conn, id)?.ok_or_else(|| Error::not_found("no such bot")))
        .await?;
    log::info!("bot {id} revoked by {}", caller);
    Ok(HttpResponse::NoContent().finish())
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(create).service(list).service(revoke);
}
