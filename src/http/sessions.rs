//! Sessions over HTTP (SPEC section 5): the bot handoff, bot messages, reading a
//! session, its messages and its transcript, ending it, and listing sessions.
//!
//! Reads come straight from Postgres: everything there is committed, and the
//! `ChatSession` actor writes nothing it has not committed. Writes (messages, ending) go
//! through the session's actor like WebSocket requests do, so HTTP and WebSocket clients
//! share one writer, one `seq` and one fan-out.
//!
//! Access follows `access::authorize`: a session that exists but is not the caller's
//! answers 403 `forbidden` (also for a bot asking about another bot's session); 404
//! means there is no such session.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::client::ClientInfo;
use super::later::Later;
use crate::access::{self, Action, Party};
use crate::actors::messages::session::Command;
use crate::actors::reply::Reply;
use crate::auth::Caller;
use crate::conversation::{Answer, SessionCommand};
use crate::db::sessions::SessionView;
use crate::db::{self, messages::Page, sessions::Owner};
use crate::domain::{
    AttachmentId, ClientMsgId, Content, Remark, Role, SessionId, SessionStatus, VisitorId,
};
use crate::error::{Error, ErrorResponse, Result};
use crate::handoff::{self, Handoff};
use crate::protocol::objects::{Audience, Message, Session};
use crate::state::AppState;

const MESSAGES_DEFAULT: i64 = 100;
const MESSAGES_MAX: i64 = 500;
const LIST_DEFAULT: i64 = 20;
const LIST_MAX: i64 = 100;

#[derive(Serialize, ToSchema)]
pub struct HandoffCreated {
    pub session: Session,
    pub visitor: VisitorRef,
    /// The visitor's token: connect to `ws_url` with `?token=<visitor_token>`.
    pub visitor_token: String,
    /// The WebSocket endpoint of this server at the address the request came to, as
    /// the client saw it through any trusted proxy (`wss://` behind TLS).
    pub ws_url: String,
}

#[derive(Serialize, ToSchema)]
pub struct VisitorRef {
    pub id: VisitorId,
}

#[derive(Serialize, ToSchema)]
pub struct SessionBody {
    pub session: Session,
}

#[derive(Serialize, ToSchema)]
pub struct MessageBody {
    pub message: Message,
}

#[derive(Serialize, ToSchema)]
pub struct MessagePage {
    pub messages: Vec<Message>,
    pub has_more: bool,
}

#[derive(Serialize, ToSchema)]
pub struct SessionList {
    pub sessions: Vec<Session>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMessage {
    /// 1 to 4000 characters after trimming; may be left out when `attachment_id` is given.
    pub body: Option<String>,
    /// Makes a retry return the original message instead of sending a second one.
    pub client_msg_id: Option<String>,
    /// A file uploaded to this session by the sender and not sent yet.
    pub attachment_id: Option<AttachmentId>,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct EndSession {
    pub reason: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessagesQuery {
    /// Only messages with a greater `seq` (default 0: from the start).
    pub after_seq: Option<i32>,
    /// 1 to 500, default 100.
    pub limit: Option<i64>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    #[param(inline)]
    pub status: Option<SessionStatus>,
    /// 1 to 100, default 20.
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Hands a conversation over from a bot: visitor, transcript and queue.
#[utoipa::path(
    operation_id = "create_session",
    context_path = "/api/v1",
    tag = "sessions",
    request_body = Handoff,
    params(("Idempotency-Key" = Option<String>, Header,
        description = "Retries with the same key return the same session")),
    responses(
        (status = 201, description = "Handed over (or found under the same Idempotency-Key)",
            body = HandoffCreated),
        (status = 400, description = "Invalid body", body = ErrorResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not a bot", body = ErrorResponse),
        (status = 409, description = "The visitor already has an open session",
            body = ErrorResponse),
        (status = 413, description = "Body too large", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[post("/sessions")]
async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    client: ClientInfo,
    body: Later<web::Json<Handoff>>,
) -> Result<HttpResponse> {
    let bot = caller.require_bot()?;
    let key = match req.headers().get("Idempotency-Key") {
        Some(value) => Some(handoff::idempotency_key(value.to_str().map_err(|_| {
            Error::bad_request("Idempotency-Key: printable ASCII only")
        })?)?),
        None => None,
    };
    let body = body.take()?.into_inner();
    let handed_off = handoff::hand_off(&state, bot, body, key).await?;
    let view = handed_off.view;
    let visitor_token = state.tokens.issue(view.visitor.id.0, Role::Visitor)?;
    let ws_url = format!("{}://{}/ws", client.scheme.websocket(), client.host);
    Ok(HttpResponse::Created().json(HandoffCreated {
        session: Session::for_audience(&view, Audience::Bot),
        visitor: VisitorRef {
            id: view.visitor.id,
        },
        visitor_token,
        ws_url,
    }))
}

/// Sends a message into the session as the caller (a bot, usually), delivered live.
#[utoipa::path(
    operation_id = "send_message",
    context_path = "/api/v1",
    tag = "sessions",
    params(("id" = SessionId, Path)),
    request_body = NewMessage,
    responses(
        (status = 201, description = "Stored and delivered", body = MessageBody),
        (status = 400, description = "Invalid body", body = ErrorResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not a participant", body = ErrorResponse),
        (status = 404, description = "No such session or attachment", body = ErrorResponse),
        (status = 409, description = "The session has ended, or the file was sent",
            body = ErrorResponse),
        (status = 413, description = "Body too large", body = ErrorResponse),
        (status = 429, description = "Too many messages from this caller",
            body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[post("/sessions/{id}/messages")]
async fn send_message(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<SessionId>,
    body: Later<web::Json<NewMessage>>,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    authorize(&state, caller, id, Action::Send).await?;
    state.limiters.http_message(caller.uuid())?;
    let body = body.take()?.into_inner();
    let command = SessionCommand::Send {
        client_msg_id: body.client_msg_id.map(ClientMsgId::parse).transpose()?,
        content: Content::parse(body.body.as_deref(), body.attachment_id)?,
    };
    match run(&state, caller, id, command).await? {
        Answer::Sent(message) => Ok(HttpResponse::Created().json(MessageBody { message })),
        other => Err(unexpected(other)),
    }
}

/// One session, as the caller may see it.
#[utoipa::path(
    operation_id = "get_session",
    context_path = "/api/v1",
    tag = "sessions",
    params(("id" = SessionId, Path)),
    responses(
        (status = 200, body = SessionBody),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not the caller's session", body = ErrorResponse),
        (status = 404, description = "No such session", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[get("/sessions/{id}")]
async fn show(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<SessionId>,
) -> Result<HttpResponse> {
    let (view, party) = load(&state, &caller, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(SessionBody {
        session: Session::for_audience(&view, party.audience()),
    }))
}

/// Messages after a `seq`, oldest first; notes only for staff.
#[utoipa::path(
    operation_id = "list_messages",
    context_path = "/api/v1",
    tag = "sessions",
    params(("id" = SessionId, Path), MessagesQuery),
    responses(
        (status = 200, body = MessagePage),
        (status = 400, description = "Invalid query", body = ErrorResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not the caller's session", body = ErrorResponse),
        (status = 404, description = "No such session", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[get("/sessions/{id}/messages")]
async fn list_messages(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<SessionId>,
    query: Later<web::Query<MessagesQuery>>,
) -> Result<HttpResponse> {
    let (view, party) = load(&state, &caller, id.into_inner()).await?;
    let query = query.take()?.into_inner();
    let limit = query.limit.unwrap_or(MESSAGES_DEFAULT);
    if !(1..=MESSAGES_MAX).contains(&limit) {
        return Err(Error::bad_request(format!("limit: 1 to {MESSAGES_MAX}")));
    }
    let after = query.after_seq.unwrap_or(0).max(0);
    let (messages, has_more) =
        read_messages(&state, view.row.id, Page::After(after), limit, party).await?;
    Ok(HttpResponse::Ok().json(MessagePage { messages, has_more }))
}

/// Ends the session for everyone in it.
#[utoipa::path(
    operation_id = "end_session",
    context_path = "/api/v1",
    tag = "sessions",
    params(("id" = SessionId, Path)),
    request_body(content = Option<EndSession>),
    responses(
        (status = 200, body = SessionBody),
        (status = 400, description = "Invalid body", body = ErrorResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not the caller's session", body = ErrorResponse),
        (status = 404, description = "No such session", body = ErrorResponse),
        (status = 409, description = "Already ended", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[post("/sessions/{id}/end")]
async fn end(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<SessionId>,
    body: Later<web::Bytes>,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    authorize(&state, caller, id, Action::End).await?;
    let body = body.take()?;
    // The body is optional: `{}`, no body at all, or `{"reason": …}`.
    let body: EndSession = if body.iter().all(u8::is_ascii_whitespace) {
        EndSession::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| Error::bad_request(format!("invalid JSON body: {e}")))?
    };
    let command = SessionCommand::End {
        reason: Remark::parse("reason", body.reason.as_deref(), Remark::REASON_CHARS)?,
    };
    match run(&state, caller, id, command).await? {
        Answer::Ended { .. } => {
            let (view, party) = load(&state, &caller, id).await?;
            Ok(HttpResponse::Ok().json(SessionBody {
                session: Session::for_audience(&view, party.audience()),
            }))
        }
        other => Err(unexpected(other)),
    }
}

/// The caller's sessions, newest first, a page at a time: a bot's own, a specialist's
/// assigned ones and the left messages nobody took yet, a visitor's own, all for admins.
#[utoipa::path(
    operation_id = "list_sessions",
    context_path = "/api/v1",
    tag = "sessions",
    params(ListQuery),
    responses(
        (status = 200, body = SessionList),
        (status = 400, description = "Invalid query or cursor", body = ErrorResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[get("/sessions")]
async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    query: Later<web::Query<ListQuery>>,
) -> Result<HttpResponse> {
    let query = query.take()?.into_inner();
    let limit = list_limit(query.limit)?;
    let after = query.cursor.as_deref().map(parse_cursor).transpose()?;
    let owner = match caller {
        Caller::Admin(_) => Owner::Everyone,
        Caller::Bot(id) => Owner::Bot(id),
        Caller::Specialist(id) => Owner::Specialist(id),
        Caller::Visitor(id) => Owner::Visitor(id),
    };
    let status = query.status;
    // One more than asked tells whether there is a next page.
    let mut views = state
        .db
        .run(move |conn| Ok(db::sessions::list(conn, owner, status, after, limit + 1)?))
        .await?;
    let next_cursor = next_cursor(&mut views, limit);
    let audience = Audience::of(caller.role());
    let sessions = views
        .iter()
        .map(|view| Session::for_audience(view, audience))
        .collect();
    Ok(HttpResponse::Ok().json(SessionList {
        sessions,
        next_cursor,
    }))
}

/// The page size of a session list: 1 to 100, 20 when not given.
pub(super) fn list_limit(limit: Option<i64>) -> Result<i64> {
    let limit = limit.unwrap_or(LIST_DEFAULT);
    if !(1..=LIST_MAX).contains(&limit) {
        return Err(Error::bad_request(format!("limit: 1 to {LIST_MAX}")));
    }
    Ok(limit)
}

/// Lists are read with one row more than `limit`: its presence says there is a next
/// page, which starts after the last row kept.
pub(super) fn next_cursor(views: &mut Vec<SessionView>, limit: i64) -> Option<String> {
    if views.len() as i64 <= limit {
        return None;
    }
    views.truncate(limit as usize);
    views.last().map(cursor_of)
}

/// `<microseconds since the epoch>_<session id>` of the last session of a page.
fn cursor_of(view: &SessionView) -> String {
    format!("{}_{}", view.row.created_at.timestamp_micros(), view.row.id)
}

pub(super) fn parse_cursor(raw: &str) -> Result<db::sessions::ListCursor> {
    let invalid = || Error::bad_request("cursor: not a cursor this server gave out");
    let (micros, id) = raw.split_once('_').ok_or_else(invalid)?;
    let micros: i64 = micros.parse().map_err(|_| invalid())?;
    // Postgres stores years up to 294276, but cursors it gave out have four digits.
    let created_at = DateTime::<Utc>::from_timestamp_micros(micros)
        .filter(|at| (1..=9999).contains(&at.year()))
        .ok_or_else(invalid)?;
    let id: SessionId = id.parse().map_err(|_| invalid())?;
    Ok((created_at, id))
}

/// The session and the capacity in which the caller may read it.
pub(super) async fn load(
    state: &AppState,
    caller: &Caller,
    id: SessionId,
) -> Result<(SessionView, Party)> {
    let caller = *caller;
    state
        .db
        .run(move |conn| {
            let view = db::sessions::find_view(conn, id)?.ok_or_else(no_such_session)?;
            let took_part = access::took_part(conn, id, &caller)?;
            let party = access::authorize_reading(&view.row, &caller, took_part)?;
            Ok((view, party))
        })
        .await
}

fn no_such_session() -> Error {
    Error::not_found("no such session")
}

pub(super) async fn read_messages(
    state: &AppState,
    id: SessionId,
    page: Page,
    limit: i64,
    party: Party,
) -> Result<(Vec<Message>, bool)> {
    let with_notes = party.sees_notes();
    let (rows, has_more) = state
        .db
        .run(move |conn| Ok(db::messages::page(conn, id, page, limit, with_notes)?))
        .await?;
    Ok((rows.iter().map(Message::from_stored).collect(), has_more))
}

/// Checks that `caller` may do `action` to session `id` as it stands, before the
/// request's body is looked at; the session's actor checks again when it acts.
async fn authorize(state: &AppState, caller: Caller, id: SessionId, action: Action) -> Result<()> {
    state
        .db
        .run(move |conn| {
            let row = db::sessions::find(conn, id)?.ok_or_else(no_such_session)?;
            access::authorize(&row, &caller, action).map(|_| ())
        })
        .await
}

/// Runs a request through the session's actor and waits for its answer.
async fn run(
    state: &AppState,
    caller: Caller,
    id: SessionId,
    command: SessionCommand,
) -> Result<Answer> {
    let name = display_name(state, caller).await?;
    let (reply, answer) = Reply::channel();
    state.sessions.tell(
        id,
        Command {
            caller,
            name,
            reply,
            command,
        },
    );
    answer
        .await
        .map_err(|_| Error::internal("the session did not answer"))?
}

/// The name shown as the sender of the caller's messages.
async fn display_name(state: &AppState, caller: Caller) -> Result<Option<String>> {
    state
        .db
        .run(move |conn| {
            Ok(match caller {
                Caller::Bot(id) => db::bots::find(conn, id)?.map(|b| b.name),
                Caller::Visitor(id) => db::visitors::find(conn, id)?.and_then(|v| v.name),
                Caller::Specialist(id) | Caller::Admin(id) => {
                    db::specialists::find(conn, id)?.map(|s| s.name)
                }
            })
        })
        .await
}

pub(super) fn unexpected(answer: Answer) -> Error {
    Error::internal(format!("unexpected answer from a session: {answer:?}"))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(create)
        .service(list)
        .service(show)
        .service(send_message)
        .service(list_messages)
        .service(end);
}
