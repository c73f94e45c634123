//! `GET /api/v1/queue`: the waiting sessions in queue order with positions and the wait
//! estimate, straight from the Dispatcher (the queue lives there, not in a table).
//! Staff see every entry; a bot sees the whole queue's figures but only its own
//! sessions' entries, with their true positions.

use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::actors::messages::dispatcher::GetQueue;
use crate::auth::Caller;
use crate::db;
use crate::error::{Error, ErrorResponse, Result};
use crate::protocol::server::WaitingEntry;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct QueueBody {
    /// Sessions waiting, in the whole queue.
    pub length: usize,
    pub specialists_online: usize,
    /// Expected wait of a session joining now; null when nobody who fits is online.
    pub estimated_wait_secs: Option<u64>,
    pub waiting: Vec<WaitingEntry>,
}

#[utoipa::path(
    operation_id = "get_queue",
    context_path = "/api/v1",
    tag = "queue",
    responses(
        (status = 200, body = QueueBody),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Visitors may not see the queue", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[get("/queue")]
async fn queue(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse> {
    if let Caller::Visitor(_) = caller {
        return Err(Error::forbidden("the queue is for staff and bots"));
    }
    // A bot sees the whole queue's figures but only its own entries.
    let shown = match caller {
        Caller::Bot(bot) => Some(
            state
                .db
                .run(move |conn| Ok(db::sessions::waiting_of_bot(conn, bot)?))
                .await?,
        ),
        _ => None,
    };
    let is_bot = shown.is_some();
    let summary = state
        .dispatcher
        .send(GetQueue { shown })
        .await
        .map_err(Error::internal)??;
    let mut waiting = summary.waiting;
    if is_bot {
        for entry in &mut waiting {
            // What staff see beyond a bot's view (SPEC section 4, Session).
            entry.session.metadata = None;
            entry.session.visitor.email = None;
            entry.session.visitor.phone = None;
            entry.session.callback = None;
            entry.session.left_message_at = None;
        }
    }
    Ok(HttpResponse::Ok().json(QueueBody {
        length: summary.length,
        specialists_online: summary.specialists_online,
        estimated_wait_secs: summary.estimated_wait_secs,
        waiting,
    }))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(queue);
}
