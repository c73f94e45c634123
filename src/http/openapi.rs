//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document of the HTTP API, generated from
//! the handlers' own annotations and types (utoipa), so the document and the code are
//! one source. `tests/openapi.rs` checks it against the routes the server really has.

use std::sync::OnceLock;

use actix_web::{get, web, HttpResponse};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{
    attachments, bots, business_hours, canned_responses, conversations, embedding, health, login,
    mail, queue, scheduled, sessions, setup, specialists, stats, transcripts, visitors, webhooks,
    workspace,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Switchboard",
        description = "Live-chat support server: bot handoff, sessions, transcripts, \
                       attachments, queue and statistics. Every call but the public ones \
                       takes `Authorization: Bearer <jwt>`; errors are \
                       `{\"error\": {\"code\", \"message\"}}`."
    ),
    paths(
        health::healthz,
        health::readyz,
        health::metrics,
        document,
        embedding::check,
        business_hours::availability,
        business_hours::show,
        business_hours::replace,
        business_hours::remove,
        visitors::create,
        login::login,
        setup::check,
        setup::create,
        specialists::create,
        specialists::list,
        specialists::change,
        bots::create,
        bots::list,
        bots::revoke,
        sessions::create,
        sessions::list,
        sessions::show,
        sessions::send_message,
        sessions::list_messages,
        transcripts::show_transcript,
        sessions::end,
        conversations::list,
        scheduled::list,
        attachments::upload,
        attachments::download,
        queue::queue,
        stats::stats,
        canned_responses::list,
        canned_responses::create,
        canned_responses::show,
        canned_responses::change,
        canned_responses::remove,
        canned_responses::render,
        workspace::set_tags,
        workspace::archive,
        workspace::unarchive,
        workspace::analytics,
        webhooks::create,
        webhooks::list,
        webhooks::remove,
        webhooks::deliveries,
        mail::list,
        mail::mail_transcript,
    ),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The document as served, built once.
pub fn document_json() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        ApiDoc::openapi()
            .to_pretty_json()
            .expect("the OpenAPI document serializes")
    })
}

/// This document.
#[utoipa::path(
    operation_id = "get_openapi",
    context_path = "/api/v1",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object))
)]
#[get("/openapi.json")]
async fn document() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document_json())
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(document);
}
