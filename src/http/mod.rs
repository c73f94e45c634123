//! The HTTP API (SPEC sections 3 and 5) and operational endpoints: one file per resource.
//! Everything under `/api` answers errors as `{"error": {"code", "message"}}`, including
//! the errors actix produces itself (bad JSON, bad paths, unknown routes, wrong methods).

pub mod attachments;
pub mod bots;
pub mod business_hours;
pub mod canned_responses;
pub mod client;
pub mod conversations;
pub mod cors;
pub mod embedding;
pub mod forwarded;
pub mod health;
pub mod later;
pub mod login;
pub mod mail;
pub mod openapi;
pub mod origin;
pub mod pages;
pub mod queue;
pub mod rate_limit;
pub mod scheduled;
pub mod sessions;
pub mod setup;
pub mod specialists;
pub mod stats;
pub mod transcripts;
pub mod trusted_proxies;
pub mod visitors;
pub mod webhooks;
pub mod workspace;
pub mod ws;

use std::time::Instant;

use actix_web::body::BoxBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::header::CONTENT_TYPE;
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{error, web, HttpRequest, HttpResponse, ResponseError};

use crate::config::Config;
use crate::error::{Error, ErrorCode};
use crate::state::AppState;

/// Mounts every route on an `App`.
pub fn configure(cfg: &mut web::ServiceConfig, config: &Config) {
    cfg.app_data(json_config())
        .app_data(path_config())
        .app_data(query_config())
        .configure(health::configure)
        .configure(ws::configure)
        .configure(pages::configure)
        .service(
            web::scope("/api/v1")
                .wrap(ErrorHandlers::new().default_handler(json_error_body))
                // Outside the JSON errors, so the widget can read them too; its own
                // refusals of preflights get the JSON body from the outer handlers.
                .wrap(cors::widget_calls(&config.allowed_origins))
                .wrap(ErrorHandlers::new().default_handler(json_error_body))
                .configure(embedding::configure)
                .configure(business_hours::configure)
                .configure(visitors::configure)
                .configure(login::configure)
                .configure(setup::configure)
                .configure(specialists::configure)
                .configure(bots::configure)
                .configure(sessions::configure)
                .configure(transcripts::configure)
                .configure(conversations::configure)
                .configure(scheduled::configure)
                .configure(attachments::configure)
                .configure(queue::configure)
                .configure(stats::configure)
                .configure(canned_responses::configure)
                .configure(workspace::configure)
                .configure(webhooks::configure)
                .configure(mail::configure)
                .configure(openapi::configure)
                .default_service(web::to(api_not_found)),
        )
        .default_service(web::to(not_found));
}

fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(256 * 1024)
        .error_handler(|err, _| {
            let error = match &err {
                error::JsonPayloadError::Overflow { .. }
                | error::JsonPayloadError::OverflowKnownLength { .. } => {
                    Error::too_large("request body too large")
                }
                error::JsonPayloadError::ContentType => {
                    Error::bad_request("expected Content-Type: application/json")
                }
                other => Error::bad_request(format!("invalid JSON body: {other}")),
            };
            error.into()
        })
}

fn path_config() -> web::PathConfig {
    web::PathConfig::default()
        .error_handler(|err, _| Error::not_found(format!("no such resource: {err}")).into())
}

fn query_config() -> web::QueryConfig {
    web::QueryConfig::default()
        .error_handler(|err, _| Error::bad_request(format!("invalid query: {err}")).into())
}

async fn api_not_found() -> HttpResponse {
    Error::not_found("no such route").error_response()
}

async fn not_found(req: HttpRequest) -> HttpResponse {
    if req.path().starts_with("/api") {
        return Error::not_found("no such route").error_response();
    }
    HttpResponse::NotFound()
        .content_type("text/plain")
        .body("not found")
}

/// Gives error responses that are not already JSON (actix's own 405, 413, …) the
/// API's JSON body, so `/api` never answers with an HTML or empty error.
fn json_error_body<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = res
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let code = match status.as_u16() {
        400 => ErrorCode::BadRequest,
        401 => ErrorCode::Unauthorized,
        403 => ErrorCode::Forbidden,
        404 | 405 => ErrorCode::NotFound,
        409 => ErrorCode::Conflict,
        413 => ErrorCode::TooLarge,
        429 => ErrorCode::RateLimited,
        _ => ErrorCode::Internal,
    };
    let message = status.canonical_reason().unwrap_or("error").to_lowercase();
    let mut response: HttpResponse<BoxBody> = Error::new(code, message).error_response();
    *response.status_mut() = status;
    let (req, _) = res.into_parts();
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, response).map_into_right_body(),
    ))
}

/// Counts every request by matched route pattern and status, and times it.
pub fn record_metrics<S, B>(
    req: actix_web::dev::ServiceRequest,
    srv: &S,
) -> impl std::future::Future<Output = actix_web::Result<ServiceResponse<B>>>
where
    S: Service<
        actix_web::dev::ServiceRequest,
        Response = ServiceResponse<B>,
        Error = actix_web::Error,
    >,
{
    let started = Instant::now();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let fut = srv.call(req);
    async move {
        let res = fut.await?;
        if let Some(state) = state {
            let route = res
                .request()
                .match_pattern()
                .unwrap_or_else(|| "unmatched".to_owned());
            state
                .metrics
                .record_http(&route, res.status().as_u16(), started.elapsed());
        }
        Ok(res)
    }
}
