//! Conversations (`chat_sessions`): who, what, where in its lifecycle, and `last_seq`,
//! the highest message sequence number committed so far.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::chat_sessions;
use crate::domain::{BotId, Priority, SessionId, SessionStatus, SpecialistId, VisitorId};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = chat_sessions)]
pub struct ChatSession {
    pub id: SessionId,
    pub number: i64,
    pub visitor_id: VisitorId,
    pub specialist_id: Option<SpecialistId>,
    pub created_by_bot_id: Option<BotId>,
    pub status: SessionStatus,
    pub priority: Priority,
    pub intent: Option<String>,
    pub language: Option<String>,
    pub skills: Vec<String>,
    pub page_url: Option<String>,
    pub user_agent: Option<String>,
    pub metadata: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub queued_at: DateTime<Utc>,
    pub assigned_at: Option<DateTime<Utc>>,
    pub first_response_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub ended_by: Option<crate::domain::ParticipantType>,
    pub ended_by_id: Option<uuid::Uuid>,
    pub end_reason: Option<String>,
    pub last_seq: i32,
    pub rating: Option<i16>,
    pub feedback: Option<String>,
    pub rated_at: Option<DateTime<Utc>>,
    pub archived_at: Option<DateTime<Utc>>,
    /// The node serving the session, when several do (see `db::ownership`).
    pub owner_node: Option<String>,
    /// The fencing token of the session's writer.
    pub owner_epoch: i64,
    /// A visitor who left a message asked to be called back.
    pub callback_requested: bool,
    /// When the visitor left a message instead of waiting for a chat.
    pub left_message_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
impl ChatSession {
    /// A session row for tests of the rules that read rows: assigned unless waiting.
    pub fn sample(status: SessionStatus) -> ChatSession {
        let now = chrono::Utc::now();
        let specialist = (status != SessionStatus::Waiting).then(SpecialistId::new);
        ChatSession {
            id: SessionId::new(),
            number: 42,
            visitor_id: VisitorId::new(),
            specialist_id: specialist,
            created_by_bot_id: Some(BotId::new()),
            status,
            priority: Priority::Medium,
            intent: None,
            language: None,
            skills: vec![],
            page_url: None,
            user_agent: None,
            metadata: serde_json::json!({}),
            created_at: now,
            queued_at: now,
            assigned_at: specialist.map(|_| now),
            first_response_at: None,
            ended_at: None,
            ended_by: None,
            ended_by_id: None,
            end_reason: None,
            last_seq: 0,
            rating: None,
            feedback: None,
            rated_at: None,
            archived_at: None,
            owner_node: None,
            owner_epoch: 0,
            callback_requested: false,
            left_message_at: None,
        }
    }
}

/// Everything needed to show a session to anyone: the row plus the names it refers to.
#[derive(Debug, Clone)]
pub struct SessionView {
    pub row: ChatSession,
    pub visitor: super::visitors::Visitor,
    pub specialist_name: Option<String>,
    /// Sorted, as loaded with the row and kept in step by the session's actor.
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = chat_sessions)]
pub struct NewChatSession {
    pub id: SessionId,
    pub visitor_id: VisitorId,
    pub created_by_bot_id: Option<BotId>,
    pub idempotency_key: Option<String>,
    pub priority: Priority,
    pub intent: Option<String>,
    pub language: Option<String>,
    pub skills: Vec<String>,
    pub page_url: Option<String>,
    pub user_agent: Option<String>,
    pub metadata: serde_json::Value,
    pub status: SessionStatus,
    pub callback_requested: bool,
    pub left_message_at: Option<DateTime<Utc>>,
}

pub fn insert(conn: &mut PgConnection, session: &NewChatSession) -> QueryResult<ChatSession> {
    diesel::insert_into(chat_sessions::table)
        .values(session)
        .returning(ChatSession::as_returning())
        .get_result(conn)
}

pub fn find(conn: &mut PgConnection, id: SessionId) -> QueryResult<Option<ChatSession>> {
    chat_sessions::table
        .find(id)
        .select(ChatSession::as_select())
        .first(conn)
        .optional()
}

/// `CHAT-00000042`: the number people read out on the phone.
pub fn display_number(number: i64) -> String {
    format!("CHAT-{number:08}")
}

/// The row with the people it refers to, for building wire objects.
pub fn find_view(conn: &mut PgConnection, id: SessionId) -> QueryResult<Option<SessionView>> {
    use super::schema::{specialists, visitors};
    let found = chat_sessions::table
        .find(id)
        .inner_join(visitors::table)
        .left_join(specialists::table)
        .select((
            ChatSession::as_select(),
            super::visitors::Visitor::as_select(),
            specialists::name.nullable(),
        ))
        .first::<Joined>(conn)
        .optional()?;
    Ok(with_tags(conn, found.into_iter().collect())?.pop())
}

/// A session row with its visitor and its specialist's name, as the queries load it.
type Joined = (ChatSession, super::visitors::Visitor, Option<String>);

/// Completes loaded rows into views with their tags, in one more query for all of them.
fn with_tags(conn: &mut PgConnection, rows: Vec<Joined>) -> QueryResult<Vec<SessionView>> {
    let ids: Vec<SessionId> = rows.iter().map(|(row, _, _)| row.id).collect();
    let mut tags = super::session_tags::for_sessions(conn, &ids)?;
    Ok(rows
        .into_iter()
        .map(|(row, visitor, specialist_name)| SessionView {
            tags: tags.remove(&row.id).unwrap_or_default(),
            row,
            visitor,
            specialist_name,
        })
        .collect())
}

fn views(
    conn: &mut PgConnection,
    filter: Box<
        dyn diesel::BoxableExpression<
            chat_sessions::table,
            diesel::pg::Pg,
            SqlType = diesel::sql_types::Bool,
        >,
    >,
) -> QueryResult<Vec<SessionView>> {
    let ids: Vec<SessionId> = chat_sessions::table
        .filter(filter)
        .select(chat_sessions::id)
        .load(conn)?;
    views_of(conn, &ids)
}

/// The sessions with these ids, oldest in the queue first.
pub fn views_of(conn: &mut PgConnection, ids: &[SessionId]) -> QueryResult<Vec<SessionView>> {
    use super::schema::{specialists, visitors};
    let rows = chat_sessions::table
        .filter(chat_sessions::id.eq_any(ids))
        .inner_join(visitors::table)
        .left_join(specialists::table)
        .select((
            ChatSession::as_select(),
            super::visitors::Visitor::as_select(),
            specialists::name.nullable(),
        ))
        .order((chat_sessions::queued_at.asc(), chat_sessions::id.asc()))
        .load::<Joined>(conn)?;
    with_tags(conn, rows)
}

/// The visitor's open (waiting, active or offline) sessions: at most one, by the partial
/// unique index.
pub fn open_for_visitor(
    conn: &mut PgConnection,
    visitor: VisitorId,
) -> QueryResult<Vec<SessionView>> {
    views(
        conn,
        Box::new(
            chat_sessions::visitor_id
                .eq(visitor)
                .and(chat_sessions::status.eq_any([
                    SessionStatus::Waiting,
                    SessionStatus::Active,
                    SessionStatus::Offline,
                ])),
        ),
    )
}

/// The specialist's active chats and the left messages they took to answer.
pub fn open_for_specialist(
    conn: &mut PgConnection,
    specialist: SpecialistId,
) -> QueryResult<Vec<SessionView>> {
    views(
        conn,
        Box::new(
            chat_sessions::specialist_id
                .eq(specialist)
                .assume_not_null()
                .and(chat_sessions::status.eq_any([SessionStatus::Active, SessionStatus::Offline])),
        ),
    )
}

/// Every waiting and active session: what the dispatcher rebuilds itself from.
pub fn all_open(conn: &mut PgConnection) -> QueryResult<Vec<SessionView>> {
    views(
        conn,
        Box::new(chat_sessions::status.eq_any([SessionStatus::Waiting, SessionStatus::Active])),
    )
}

/// A state change of a session; `None` fields are left as they are.
#[derive(Debug, Default, Clone, AsChangeset)]
#[diesel(table_name = chat_sessions)]
pub struct SessionChanges {
    pub status: Option<SessionStatus>,
    pub priority: Option<Priority>,
    pub skills: Option<Vec<String>>,
    pub specialist_id: Option<Option<SpecialistId>>,
    pub assigned_at: Option<Option<DateTime<Utc>>>,
    pub first_response_at: Option<Option<DateTime<Utc>>>,
    pub ended_at: Option<Option<DateTime<Utc>>>,
    pub ended_by: Option<Option<crate::domain::ParticipantType>>,
    pub ended_by_id: Option<Option<uuid::Uuid>>,
    pub end_reason: Option<Option<String>>,
    pub rating: Option<Option<i16>>,
    pub feedback: Option<Option<String>>,
    pub rated_at: Option<Option<DateTime<Utc>>>,
    pub archived_at: Option<Option<DateTime<Utc>>>,
    pub callback_requested: Option<bool>,
    pub left_message_at: Option<Option<DateTime<Utc>>>,
}

pub fn update(
    conn: &mut PgConnection,
    id: SessionId,
    changes: &SessionChanges,
) -> QueryResult<ChatSession> {
    diesel::update(chat_sessions::table.find(id))
        .set(changes)
        .returning(ChatSession::as_returning())
        .get_result(conn)
}

/// Averages over sessions of the last hour, seeding the wait estimator at start-up:
/// (handle seconds, seconds from queueing to assignment).
pub fn recent_averages(conn: &mut PgConnection) -> QueryResult<(Option<f64>, Option<f64>)> {
    #[derive(QueryableByName)]
    struct Averages {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Double>)]
        handle: Option<f64>,
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Double>)]
        wait: Option<f64>,
    }
    let averages: Averages = diesel::sql_query(
        "SELECT avg(extract(epoch FROM ended_at - assigned_at))::float8 AS handle, \
                avg(extract(epoch FROM assigned_at - queued_at))::float8 AS wait \
         FROM chat_sessions \
         WHERE assigned_at > now() - interval '1 hour' AND left_message_at IS NULL",
    )
    .get_result(conn)?;
    Ok((averages.handle, averages.wait))
}

/// The session a bot created with this `Idempotency-Key`, if any.
pub fn find_by_idempotency_key(
    conn: &mut PgConnection,
    bot: BotId,
    key: &str,
) -> QueryResult<Option<SessionView>> {
    let id: Option<SessionId> = chat_sessions::table
        .filter(
            chat_sessions::created_by_bot_id
                .eq(bot)
                .and(chat_sessions::idempotency_key.eq(key)),
        )
        .select(chat_sessions::id)
        .first(conn)
        .optional()?;
    match id {
        Some(id) => find_view(conn, id),
        None => Ok(None),
    }
}

/// Whose sessions a listing shows (SPEC section 5, "who may see what"; section 14 for
/// the left messages every specialist sees).
#[derive(Debug, Clone, Copy)]
pub enum Owner {
    Everyone,
    Bot(BotId),
    Specialist(SpecialistId),
    Visitor(VisitorId),
}

/// Where a page of a listing starts: strictly after this `(created_at, id)` going back
/// in time.
pub type ListCursor = (DateTime<Utc>, SessionId);

/// One page of sessions, newest first by `(created_at, id)`. Keyset paging over a total
/// order never repeats or skips a row while pages are read; sessions created meanwhile
/// sort before the first page and do not push older ones around.
pub fn list(
    conn: &mut PgConnection,
    owner: Owner,
    status: Option<SessionStatus>,
    after: Option<ListCursor>,
    limit: i64,
) -> QueryResult<Vec<SessionView>> {
    use super::schema::{specialists, visitors};
    let mut query = chat_sessions::table
        .inner_join(visitors::table)
        .left_join(specialists::table)
        .select((
            ChatSession::as_select(),
            super::visitors::Visitor::as_select(),
            specialists::name.nullable(),
        ))
        .order((chat_sessions::created_at.desc(), chat_sessions::id.desc()))
        .limit(limit)
        .into_boxed();
    query = match owner {
        Owner::Everyone => query,
        Owner::Bot(bot) => query.filter(chat_sessions::created_by_bot_id.eq(bot)),
        // Left messages nobody took yet are every specialist's to answer ("Needs reply").
        Owner::Specialist(specialist) => query.filter(
            chat_sessions::specialist_id
                .eq(specialist)
                .or(chat_sessions::status
                    .eq(SessionStatus::Offline)
                    .and(chat_sessions::specialist_id.is_null())),
        ),
        Owner::Visitor(visitor) => query.filter(chat_sessions::visitor_id.eq(visitor)),
    };
    if let Some(status) = status {
        query = query.filter(chat_sessions::status.eq(status));
    }
    if let Some((created_at, id)) = after {
        query = query.filter(
            chat_sessions::created_at
                .lt(created_at)
                .or(chat_sessions::created_at
                    .eq(created_at)
                    .and(chat_sessions::id.lt(id))),
        );
    }
    let rows = query.load::<Joined>(conn)?;
    with_tags(conn, rows)
}

/// The waiting sessions a bot created, to show it its own part of the queue.
pub fn waiting_of_bot(conn: &mut PgConnection, bot: BotId) -> QueryResult<Vec<SessionId>> {
    chat_sessions::table
        .filter(
            chat_sessions::created_by_bot_id
                .eq(bot)
                .and(chat_sessions::status.eq(SessionStatus::Waiting)),
        )
        .select(chat_sessions::id)
        .load(conn)
}

/// Remembers that `specialist` took part in `session`, so they keep seeing it after a
/// transfer or the end.
pub fn add_participant(
    conn: &mut PgConnection,
    session: SessionId,
    specialist: SpecialistId,
) -> QueryResult<()> {
    use super::schema::session_specialists;
    diesel::insert_into(session_specialists::table)
        .values((
            session_specialists::specialist_id.eq(specialist),
            session_specialists::session_id.eq(session),
        ))
        .on_conflict_do_nothing()
        .execute(conn)?;
    Ok(())
}

/// Every specialist `session` is or was assigned to.
pub fn participants(conn: &mut PgConnection, session: SessionId) -> QueryResult<Vec<SpecialistId>> {
    use super::schema::session_specialists;
    session_specialists::table
        .filter(session_specialists::session_id.eq(session))
        .select(session_specialists::specialist_id)
        .load(conn)
}

/// Whether `specialist` is or was ever assigned to `session` (SPEC section 10: they keep
/// seeing the conversations they took part in).
pub fn took_part(
    conn: &mut PgConnection,
    session: SessionId,
    specialist: SpecialistId,
) -> QueryResult<bool> {
    use super::schema::session_specialists;
    diesel::select(diesel::dsl::exists(
        session_specialists::table.filter(
            session_specialists::session_id
                .eq(session)
                .and(session_specialists::specialist_id.eq(specialist)),
        ),
    ))
    .get_result(conn)
}
