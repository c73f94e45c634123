//! A whole conversation as a document (SPEC section 5): JSON, plain text or a
//! self-contained HTML page, written a page of messages at a time, so exporting a long
//! conversation never holds it whole. Who may read it is what `GET /sessions/{id}`
//! allows.

use actix_web::http::header;
use actix_web::{get, web, HttpResponse};
use futures_util::StreamExt;
use serde::Deserialize;
use utoipa::IntoParams;

use super::later::Later;
use super::sessions::{load, read_messages};
use crate::access::Party;
use crate::auth::Caller;
use crate::db::messages::Page;
use crate::domain::SessionId;
use crate::error::{Error, ErrorResponse, Result};
use crate::protocol::objects::Session;
use crate::state::AppState;
use crate::transcript::{self, Renderer, Transcript};

/// Messages read per query when writing a whole transcript.
const TRANSCRIPT_PAGE: i64 = 1000;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TranscriptQuery {
    /// `json` (default), `text` or `html`.
    #[param(inline)]
    pub format: Option<transcript::Format>,
}

/// The whole conversation as JSON, plain text or a self-contained HTML page.
#[utoipa::path(
    operation_id = "get_transcript",
    context_path = "/api/v1",
    tag = "sessions",
    params(("id" = SessionId, Path), TranscriptQuery),
    responses(
        (status = 200, content(
            (Transcript = "application/json"),
            (String = "text/plain"),
            (String = "text/html"),
        )),
        (status = 400, description = "Unknown format", body = ErrorResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not the caller's session", body = ErrorResponse),
        (status = 404, description = "No such session", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[get("/sessions/{id}/transcript")]
async fn show_transcript(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<SessionId>,
    query: Later<web::Query<TranscriptQuery>>,
) -> Result<HttpResponse> {
    let (view, party) = load(&state, &caller, id.into_inner()).await?;
    let format = query.take()?.into_inner().format;
    let renderer = Renderer::new(format.unwrap_or(transcript::Format::Json));
    let head = renderer.head(&Session::for_audience(&view, party.audience()));
    let mut response = HttpResponse::Ok();
    response.content_type(renderer.content_type());
    if format == Some(transcript::Format::Html) {
        // The page needs nothing but its own inline style.
        response.insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'",
        ));
    }
    // A page of messages at a time: a long conversation is never held whole.
    let pages = Pages {
        state: state.into_inner(),
        session: view.row.id,
        party,
        after: Some(0),
        renderer,
    };
    let body = futures_util::stream::once(async move { Ok::<_, Error>(web::Bytes::from(head)) })
        .chain(futures_util::stream::unfold(pages, Pages::next));
    Ok(response.streaming(body))
}

/// The rest of a transcript after its head: each page of messages, then the tail.
struct Pages {
    state: std::sync::Arc<AppState>,
    session: SessionId,
    party: Party,
    /// The `seq` the next page starts after; `None` once the tail has been written.
    after: Option<i32>,
    renderer: Renderer,
}

impl Pages {
    async fn next(mut self) -> Option<(Result<web::Bytes>, Pages)> {
        let after = self.after?;
        let page = read_messages(
            &self.state,
            self.session,
            Page::After(after),
            TRANSCRIPT_PAGE,
            self.party,
        )
        .await;
        let (messages, has_more) = match page {
            Ok(page) => page,
            // The head is out already: the transfer breaks off.
            Err(error) => {
                self.after = None;
                return Some((Err(error), self));
            }
        };
        let mut chunk = self.renderer.messages(&messages);
        match (has_more, messages.last()) {
            (true, Some(last)) => self.after = Some(last.seq),
            _ => {
                chunk.push_str(self.renderer.tail());
                self.after = None;
            }
        }
        Some((Ok(web::Bytes::from(chunk)), self))
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(show_transcript);
}
