//! Admin management of webhooks (SPEC section 10): create (the secret is shown once),
//! list, delete, and each webhook's recent delivery attempts. Creating or deleting one
//! refreshes the in-memory subscription summary the chat path consults.

use actix_web::{delete, get, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::later::Later;
use crate::auth::Caller;
use crate::db;
use crate::domain::WebhookId;
use crate::error::{Error, ErrorResponse, Result};
use crate::protocol::webhooks::{Delivery, Webhook};
use crate::state::AppState;
use crate::webhooks::address::WebhookUrl;
use crate::webhooks::{signature, WebhookEvent};

/// Longest secret a caller may choose.
const MAX_SECRET_CHARS: usize = 256;
/// Attempts listed per webhook, newest first.
const DELIVERIES_LISTED: i64 = 100;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateWebhook {
    /// An `http` or `https` URL.
    url: String,
    /// At least one event.
    events: Vec<WebhookEvent>,
    /// Key of the HMAC signature; generated (64 hex characters) when absent.
    secret: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct WebhookCreated {
    webhook: Webhook,
    /// Shown once: the key of `X-Switchboard-Signature`.
    secret: String,
}

#[derive(Serialize, ToSchema)]
struct WebhookList {
    webhooks: Vec<Webhook>,
}

#[derive(Serialize, ToSchema)]
struct DeliveryList {
    /// The latest attempts, newest first.
    deliveries: Vec<Delivery>,
}

/// Subscribes a URL to events.
#[utoipa::path(
    operation_id = "create_webhook",
    context_path = "/api/v1",
    tag = "admin",
    request_body = CreateWebhook,
    responses(
        (status = 201, body = WebhookCreated),
        (status = 400, description = "Invalid body, or a URL that is not allowed", body = ErrorResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Admins only", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[post("/webhooks")]
async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    body: Later<web::Json<CreateWebhook>>,
) -> Result<HttpResponse> {
    caller.require_admin()?;
    let CreateWebhook {
        url,
        events,
        secret,
    } = body.take()?.into_inner();
    let parsed = WebhookUrl::parse(url.trim())?;
    parsed.resolve(state.config.webhook_allow_private).await?;
    let events = event_names(&events)?;
    let secret = match secret {
        Some(secret) => checked_secret(secret)?,
        None => signature::new_secret()?,
    };
    let url = url.trim().to_owned();
    let created_by = caller.require_staff()?;
    let webhooks = state.webhooks.clone();
    let row = state
        .db
        .run(move |conn| {
            let row = db::webhooks::insert(conn, &url, &events, &secret, created_by)?;
            webhooks.subscriptions.reload(conn)?;
            Ok(row)
        })
        .await?;
    log::info!("webhook {} created by {}", row.id, caller);
    let secret = row.secret.clone();
    Ok(HttpResponse::Created().json(WebhookCreated {
        webhook: Webhook::from(row),
        secret,
    }))
}

/// Every webhook, without secrets.
#[utoipa::path(
    operation_id = "list_webhooks",
    context_path = "/api/v1",
    tag = "admin",
    responses(
        (status = 200, body = WebhookList),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Admins only", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[get("/webhooks")]
async fn list(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse> {
    caller.require_admin()?;
    let webhooks = state
        .db
        .run(|conn| Ok(db::webhooks::list(conn)?))
        .await?
        .into_iter()
        .map(Webhook::from)
        .collect();
    Ok(HttpResponse::Ok().json(WebhookList { webhooks }))
}

/// Deletes a webhook; its pending deliveries are dropped.
#[utoipa::path(
    operation_id = "delete_webhook",
    context_path = "/api/v1",
    tag = "admin",
    params(("id" = WebhookId, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Admins only", body = ErrorResponse),
        (status = 404, description = "No such webhook", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[delete("/webhooks/{id}")]
async fn remove(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<WebhookId>,
) -> Result<HttpResponse> {
    caller.require_admin()?;
    let id = id.into_inner();
    let webhooks = state.webhooks.clone();
    state
        .db
        .run(move |conn| {
            if !db::webhooks::delete(conn, id)? {
                return Err(Error::not_found("no such webhook"));
            }
            Ok(webhooks.subscriptions.reload(conn)?)
        })
        .await?;
    log::info!("webhook {id} deleted by {}", caller);
    Ok(HttpResponse::NoContent().finish())
}

/// The webhook's latest delivery attempts, newest first.
#[utoipa::path(
    operation_id = "list_webhook_deliveries",
    context_path = "/api/v1",
    tag = "admin",
    params(("id" = WebhookId, Path)),
    responses(
        (status = 200, body = DeliveryList),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Admins only", body = ErrorResponse),
        (status = 404, description = "No such webhook", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[get("/webhooks/{id}/deliveries")]
async fn deliveries(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<WebhookId>,
) -> Result<HttpResponse> {
    caller.require_admin()?;
    let id = id.into_inner();
    let deliveries = state
        .db
        .run(move |conn| {
            db::webhooks::find(conn, id)?.ok_or_else(|| Error::not_found("no such webhook"))?;
            Ok(db::webhooks::attempts(conn, id, DELIVERIES_LISTED)?)
        })
        .await?
        .into_iter()
        .map(Delivery::from)
        .collect();
    Ok(HttpResponse::Ok().json(DeliveryList { deliveries }))
}

/// The distinct event names, at least one.
fn event_names(events: &[WebhookEvent]) -> Result<Vec<String>> {
    let mut names: Vec<String> = Vec::new();
    for event in events {
        if !names.iter().any(|name| name == event.as_str()) {
            names.push(event.as_str().to_owned());
        }
    }
    if names.is_empty() {
        return Err(Error::bad_request("events: at least one event"));
    }
    Ok(names)
}

fn checked_secret(secret: String) -> Result<String> {
    let length = secret.chars().count();
    if length == 0 || length > MAX_SECRET_CHARS {
        return Err(Error::bad_request(format!(
            "secret: 1 to {MAX_SECRET_CHARS} characters"
        )));
    }
    Ok(secret)
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(create)
        .service(list)
        .service(remove)
        .service(deliveries);
}
