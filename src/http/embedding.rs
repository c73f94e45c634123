//! `GET /api/v1/embedding`: whether the page asking may run the visitor widget (SPEC
//! section 11). The widget asks before anything else. A call its page may not make fails
//! in the browser just like a lost network and leaves an error in the console, so the
//! widget could neither tell its visitor why nor stay quiet; this answer is readable by
//! every page (see `cors`) and says no more than what the page's own `Origin` may do.

use actix_web::http::header;
use actix_web::{get, web, HttpRequest, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::origin::widget_may_run;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
struct Embedding {
    /// Whether the page of the request's `Origin` may use the chat (`true` without one).
    allowed: bool,
}

/// Whether the page asking may use the visitor widget; no authentication.
#[utoipa::path(
    operation_id = "check_embedding",
    context_path = "/api/v1",
    tag = "identities",
    params(("Origin" = Option<String>, Header, description = "The page asking")),
    responses((status = 200, body = Embedding))
)]
#[get("/embedding")]
async fn check(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(Embedding {
            allowed: widget_may_run(&req, &state.config.allowed_origins),
        })
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(check);
}
