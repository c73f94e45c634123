//! `GET /api/v1/conversations` (SPEC section 10): the staff's list of conversations,
//! filtered, paged newest first, and searched in full text.
//!
//! Staff only: a specialist sees the sessions they are or were assigned to (table
//! `session_specialists`), admins all; visitors and bots get 403. Search covers message
//! bodies and notes, the visitor's name and e-mail, and the session number; the
//! documents come from the background indexer (`crate::search`), so a message is
//! findable a moment after it was sent, never slowing down its acknowledgement.

use std::collections::HashMap;

use actix_web::{get, web, HttpResponse};
use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::later::Later;
use crate::auth::Caller;
use crate::db::sessions::SessionView;
use crate::db::{self, search::Filter, search::Search};
use crate::domain::{inputs, SessionId, SessionStatus, SpecialistId};
use crate::error::{Error, ErrorResponse, Result};
use crate::protocol::objects::{Audience, Session};
use crate::search::query::{MessageQuery, MAX_CHARS};
use crate::state::AppState;

use super::sessions::{list_limit, next_cursor, parse_cursor};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConversationsQuery {
    /// Only sessions in this status (default: all).
    #[param(inline)]
    pub status: Option<SessionStatus>,
    /// Only sessions carrying this tag.
    pub tag: Option<String>,
    /// Only sessions this specialist is or was assigned to.
    pub specialist_id: Option<SpecialistId>,
    /// Full-text search over messages, notes, the visitor's name and e-mail; a session
    /// number (`CHAT-00000042` or `42`) matches that session.
    pub q: Option<String>,
    /// Created at or after this time (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Created before this time (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// `true` lists only archived sessions; by default they are left out.
    pub archived: Option<bool>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1 to 100, default 20.
    pub limit: Option<i64>,
}

/// A message that matched the search, with plain text around the match.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SearchMatch {
    pub seq: i32,
    pub snippet: String,
}

/// A session as the caller sees it elsewhere, plus, in a search, where it matched.
#[derive(Serialize, ToSchema)]
pub struct Conversation {
    #[serde(flatten)]
    pub session: Session,
    /// Only with `q`: up to 3 matching messages (empty when the session matched by its
    /// visitor or its number).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matches: Option<Vec<SearchMatch>>,
}

#[derive(Serialize, ToSchema)]
pub struct ConversationList {
    pub sessions: Vec<Conversation>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Conversations newest first, filtered and optionally searched; staff only.
#[utoipa::path(
    operation_id = "list_conversations",
    context_path = "/api/v1",
    tag = "conversations",
    params(ConversationsQuery),
    responses(
        (status = 200, body = ConversationList),
        (status = 400, description = "Invalid query or cursor", body = ErrorResponse),
        (status = 401, description = "Not authenticated", body = ErrorResponse),
        (status = 403, description = "Not staff", body = ErrorResponse),
    ),
    security(("bearer" = []))
)]
#[get("/conversations")]
async fn list(
    caller: Caller,
    state: web::Data<AppState>,
    query: Later<web::Query<ConversationsQuery>>,
) -> Result<HttpResponse> {
    let viewer = caller.require_staff()?;
    // Admins see every conversation, specialists those they were assigned to.
    let visible_to = (!caller.is_admin()).then_some(viewer);
    let query = query.take()?.into_inner();
    let limit = list_limit(query.limit)?;
    let after = query.cursor.as_deref().map(parse_cursor).transpose()?;
    let filter = Filter {
        visible_to,
        status: query.status,
        tag: query.tag.as_deref().map(inputs::tag).transpose()?,
        specialist: query.specialist_id,
        from: query.from.map(|at| storable("from", at)).transpose()?,
        to: query.to.map(|at| storable("to", at)).transpose()?,
        archived: query.archived.unwrap_or(false),
    };
    let search = query.q.as_deref().map(search).transpose()?.flatten();

    let (mut views, matches) = state
        .db
        .run(move |conn| {
            // One more than asked tells whether there is a next page.
            let ids = db::search::page(conn, &filter, search.as_ref(), after, limit + 1)?;
            let views = in_order(db::sessions::views_of(conn, &ids)?, &ids);
            // Snippets only for the rows of this page, not for the one that tells.
            let shown = &ids[..ids.len().min(limit as usize)];
            let matches = match &search {
                Some(Search {
                    messages:
                        Some(MessageQuery {
                            wanted: Some(wanted),
                            ..
                        }),
                    ..
                }) => Some(db::search::matches(conn, shown, wanted)?),
                Some(_) => Some(Vec::new()),
                None => None,
            };
            Ok((views, matches))
        })
        .await?;
    let next_cursor = next_cursor(&mut views, limit);
    let mut matches = matches.map(by_session);
    let sessions = views
        .iter()
        .map(|view| Conversation {
            session: Session::for_audience(view, Audience::Staff),
            matches: matches
                .as_mut()
                .map(|found| found.remove(&view.row.id).unwrap_or_default()),
        })
        .collect();
    Ok(HttpResponse::Ok().json(ConversationList {
        sessions,
        next_cursor,
    }))
}

/// The search a `q` asks for; blank means no search (an empty search box).
fn search(raw: &str) -> Result<Option<Search>> {
    let text = raw.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if text.chars().count() > MAX_CHARS {
        return Err(Error::bad_request(format!(
            "q: at most {MAX_CHARS} characters"
        )));
    }
    if text.contains('\0') {
        return Err(Error::bad_request("q: no NUL characters"));
    }
    Ok(Some(Search {
        text: text.to_owned(),
        messages: crate::search::query::parse(text),
        number: session_number(text),
    }))
}

/// `CHAT-00000042`, `chat-42` or `42` → 42.
fn session_number(text: &str) -> Option<i64> {
    let digits = match text.get(..5) {
        Some(prefix) if prefix.eq_ignore_ascii_case("chat-") => &text[5..],
        _ => text,
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Postgres stores years 4713 BC to 294276 AD; RFC 3339 has four-digit years.
fn storable(what: &str, at: DateTime<Utc>) -> Result<DateTime<Utc>> {
    if (1..=9999).contains(&at.year()) {
        Ok(at)
    } else {
        Err(Error::bad_request(format!("{what}: a year from 1 to 9999")))
    }
}

/// The views in the order of `ids` (the query's newest-first order).
fn in_order(views: Vec<SessionView>, ids: &[SessionId]) -> Vec<SessionView> {
    let mut by_id: HashMap<SessionId, SessionView> =
        views.into_iter().map(|v| (v.row.id, v)).collect();
    ids.iter().filter_map(|id| by_id.remove(id)).collect()
}

fn by_session(matches: Vec<db::search::Match>) -> HashMap<SessionId, Vec<SearchMatch>> {
    let mut found: HashMap<SessionId, Vec<SearchMatch>> = HashMap::new();
    for m in matches {
        found
            .entry(SessionId(m.session_id))
            .or_default()
            .push(SearchMatch {
                seq: m.seq,
                // ts_headline keeps the text's own line breaks and drops tag-like
                // tokens; one line reads better in a result list.
                snippet: m.snippet.split_whitespace().collect::<Vec<_>>().join(" "),
            });
    }
    found
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_number_is_recognised_with_or_without_its_prefix() {
        assert_eq!(session_number("CHAT-00000042"), Some(42));
        assert_eq!(session_number("chat-42"), Some(42));
        assert_eq!(session_number("42"), Some(42));
        assert_eq!(session_number("CHAT-"), None);
        assert_eq!(session_number("refund 42"), None);
        assert_eq!(session_number("99999999999999999999999"), None);
    }
}
