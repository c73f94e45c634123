//! Mail over HTTP (SPEC section 14): admins list what the outbox holds and how sending
//! stands; the visitor of a conversation that has ended asks for its transcript by mail.

use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use diesel::{Connection, PgConnection};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::later::Later;
use crate::auth::Caller;
use crate::db::messages::Page;
use crate::db::sessions::SessionView;
use crate::db::{self, mail::Summary};
use crate::domain::inputs::Email;
use crate::domain::SessionId;
use crate::error::{Error, ErrorResponse, Result};
use crate::mail::request::{self, Conversation};
use crate::mail::{compose, message, MailKind};
use crate::protocol::objects::{Audience, Message, Session};
use crate::state::AppState;
use crate::transcript::{Format, Renderer};

const LIST_DEFAULT: i64 = 50;
const LIST_MAX: i64 = 200;
/// Messages read per query when writing a transcript.
const TRANSCRIPT_PAGE: i64 = 500;
/// Most of a conversation one mail carries, in bytes; a longer one is cut off with a
/// line saying so.
const MAX_TRANSCRIPT_BYTES: usize = 256 * 1024;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// 1 to 200, default 50.
    limit: Option<i64>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TranscriptRequest {
    /// Where to send it; by default the e-mail address the visitor gave.
    email: Option<String>,
}

/// How sending a mail stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum MailStatus {
    /// The mail server took it.
    Sent,
    /// Not sent yet; tried again at `next_attempt_at`.
    Pending,
    /// Given up: a day of attempts failed, or the address cannot take mail.
    Failed,
}

/// One mail to a visitor.
#[derive(Serialize, ToSchema)]
struct OutgoingMail {
    id: Uuid,
    session_id: SessionId,
    kind: MailKind,
    /// The recipient's address.
    to: String,
    subject: String,
    created_at: DateTime<Utc>,
    attempts: i32,
    /// When the next attempt is due, while the mail is pending.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_attempt_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sent_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gave_up_at: Option<DateTime<Utc>>,
    /// Why the latest attempt failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    last_error: Option<String>,
    status: MailStatus,
}

impl From<Summary> for OutgoingMail {
    fn from(row: Summary) -> Self {
        let status = match (row.sent_at, row.gave_up_at) {
            (Some(_), _) => MailStatus::Sent,
            (None, Some(_)) => MailStatus::Failed,
            (None, None) => MailStatus::Pending,
        };
        OutgoingMail {
            id: row.id,
            session_id: row.session_id,
            kind: row.kind,
            to: row.to_address,
            subject: row.subject,
            created_at: row.created_at,
            attempts: row.attempts,
            next_attempt_at: (status == MailStatus::Pending).then_some(row.next_attempt_at),
            sent_at: row.sent_at,
            gave_up_at: row.gave_up_at,
            last_error: row.last_error,
            status,
        }
    }
}

#[derive(Serialize, ToSchema)]
struct MailList {
    /// Newest first.
    mail: Vec<OutgoingMail>,
}

#[derive(Serialize, ToSchema)]
struct MailBody {
    mail: OutgoingMail,
}

/// The latest mail to visitors and how sending each one stands, newest first.
#[utoipa::path(
    operation_id = "list_mail",
    context_path = "/api/v1",
    tag = "admin",
    params(ListQuery),
    responses(
        (status = 200, body = MailList),
        (status = 400, description = "Invalid limit", body = ErrorResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Admins only", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[get("/mail")]
async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    query: Later<web::Query<ListQuery>>,
) -> Result<HttpResponse> {
    caller.require_admin()?;
    let limit = query.take()?.into_inner().limit.unwrap_or(LIST_DEFAULT);
    if !(1..=LIST_MAX).contains(&limit) {
        return Err(Error::bad_request(format!("limit: 1 to {LIST_MAX}")));
    }
    let mail = state
        .db
        .run(move |conn| Ok(db::mail::newest(conn, limit)?))
        .await?
        .into_iter()
        .map(OutgoingMail::from)
        .collect();
    Ok(HttpResponse::Ok().json(MailList { mail }))
}

/// Mails the conversation, notes left out, to its visitor: once, after it has ended, and
/// only if a specialist or a bot wrote in it.
#[utoipa::path(
    operation_id = "mail_transcript",
    context_path = "/api/v1",
    tag = "sessions",
    params(("id" = SessionId, Path)),
    request_body = TranscriptRequest,
    responses(
        (status = 202, description = "In the outbox; sent shortly", body = MailBody),
        (status = 400, description = "Invalid body, or no address to send to",
            body = ErrorResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not the visitor of this conversation",
            body = ErrorResponse),
        (status = 404, description = "No such session", body = ErrorResponse),
        (status = 409, description = "Not ended yet, mailed already, or nobody answered",
            body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[post("/sessions/{id}/transcript/email")]
async fn mail_transcript(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<SessionId>,
    body: Later<web::Json<TranscriptRequest>>,
) -> Result<HttpResponse> {
    let Caller::Visitor(visitor) = caller else {
        return Err(Error::forbidden(
            "only the visitor of a conversation may have it mailed",
        ));
    };
    let id = id.into_inner();
    let view = state
        .db
        .run(move |conn| {
            db::sessions::find_view(conn, id)?.ok_or_else(|| Error::not_found("no such session"))
        })
        .await?;
    if view.row.visitor_id != visitor {
        return Err(Error::forbidden("not your conversation"));
    }
    let asked = match body.take()?.into_inner().email.as_deref() {
        Some(raw) if !raw.trim().is_empty() => Some(deliverable(raw)?),
        _ => None,
    };
    let mail = state
        .db
        .run(move |conn| conn.transaction(|conn| queue_transcript(conn, &view, asked)))
        .await?;
    log::info!("transcript of session {id} queued for mail by {caller}");
    Ok(HttpResponse::Accepted().json(MailBody {
        mail: OutgoingMail::from(mail),
    }))
}

/// An address given at the boundary: valid, and one lettre can send to.
fn deliverable(raw: &str) -> Result<Email> {
    let email = Email::parse(raw)?;
    message::address(email.as_str())
        .map_err(|_| Error::bad_request("email: not a deliverable e-mail address"))?;
    Ok(email)
}

/// Checks the rules and writes the transcript's mail to the outbox.
fn queue_transcript(
    conn: &mut PgConnection,
    view: &SessionView,
    asked: Option<Email>,
) -> Result<Summary> {
    let session = view.row.id;
    let conversation = Conversation {
        status: view.row.status,
        already_mailed: db::mail::transcript_requested(conn, session)?,
        answered: db::mail::someone_answered(conn, session)?,
    };
    let to = request::recipient(conversation, asked, view.visitor.email.as_deref())?;
    let to = deliverable(to.as_str())?;
    let mail = compose::transcript(
        session,
        &db::sessions::display_number(view.row.number),
        to,
        view.visitor.name.as_deref(),
        &conversation_text(conn, view)?,
    );
    db::mail::insert(conn, &mail).map_err(|error| match error {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        ) => Error::conflict("the transcript of this conversation has been mailed already"),
        other => other.into(),
    })
}

/// The conversation as the visitor saw it, as plain text, at most
/// [`MAX_TRANSCRIPT_BYTES`].
fn conversation_text(conn: &mut PgConnection, view: &SessionView) -> Result<String> {
    let mut renderer = Renderer::new(Format::Text);
    let mut text = renderer.head(&Session::for_audience(view, Audience::Visitor));
    let mut after = 0;
    loop {
        let (rows, has_more) = db::messages::page(
            conn,
            view.row.id,
            Page::After(after),
            TRANSCRIPT_PAGE,
            false,
        )?;
        let messages: Vec<Message> = rows.iter().map(Message::from_stored).collect();
        text.push_str(&renderer.messages(&messages));
        if text.len() > MAX_TRANSCRIPT_BYTES {
            let mut end = MAX_TRANSCRIPT_BYTES;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
            text.push_str("\n\n[The conversation goes on; this mail holds its beginning.]\n");
            return Ok(text);
        }
        match (has_more, messages.last()) {
            (true, Some(last)) => after = last.seq,
            _ => break,
        }
    }
    text.push_str(renderer.tail());
    Ok(text)
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list).service(mail_transcript);
}
