//! `POST /api/v1/visitors`: a website visitor gets an identity and a token, without
//! signing up. Rate limited per client IP.

use actix_web::{post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::client::ClientInfo;
use super::rate_limit::client_key;
use crate::db;
use crate::domain::inputs::{optional_text, Email};
use crate::domain::{Role, VisitorId};
use crate::error::{Error, ErrorResponse, Result};
use crate::protocol::objects::Visitor;
use crate::state::AppState;

#[derive(Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateVisitor {
    name: Option<String>,
    email: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct VisitorCreated {
    visitor: Visitor,
    /// The visitor's token for the WebSocket (`/ws?token=…`).
    token: String,
}

/// Creates an anonymous visitor; no authentication, rate limited per client address.
#[utoipa::path(
    operation_id = "create_visitor",
    context_path = "/api/v1",
    tag = "identities",
    request_body(content = Option<CreateVisitor>, content_type = "application/json"),
    responses(
        (status = 201, body = VisitorCreated),
        (status = 400, description = "Invalid body", body = ErrorResponse),
        (status = 429, description = "Too many new visitors from this address",
            body = ErrorResponse),
    )
)]
#[post("/visitors")]
async fn create(
    client: ClientInfo,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse> {
    state.limiters.signup(client_key(client.ip))?;
    // The body is optional: a widget without a pre-chat form sends nothing.
    let body: CreateVisitor = if body.iter().all(u8::is_ascii_whitespace) {
        CreateVisitor::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| Error::bad_request(format!("invalid JSON body: {e}")))?
    };
    let name = optional_text("name", body.name.as_deref(), 100)?;
    let email = match body.email.as_deref().filter(|e| !e.trim().is_empty()) {
        Some(raw) => Some(Email::parse(raw)?.into_inner()),
        None => None,
    };
    let new = db::visitors::NewVisitor {
        id: VisitorId::new(),
        external_id: None,
        name,
        email,
        phone: None,
    };
    let visitor = state
        .db
        .run(move |conn| Ok(db::visitors::insert(conn, &new)?))
        .await?;
    let token = state.tokens.issue(visitor.id.0, Role::Visitor)?;
    Ok(HttpResponse::Created().json(VisitorCreated {
        visitor: Visitor::from(visitor),
        token,
    }))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(create);
}
