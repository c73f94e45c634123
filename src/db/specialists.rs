//! Specialists and admins: the people who answer chats. Disabling one (rather than
//! deleting) keeps their conversations attributable and refuses their tokens at once.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::{chat_sessions, specialists};
use crate::domain::{Role, SessionId, SessionStatus, SpecialistId};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = specialists)]
pub struct Specialist {
    pub id: SpecialistId,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub role: Role,
    pub skills: Vec<String>,
    pub languages: Vec<String>,
    pub max_concurrent_chats: i32,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub disabled_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = specialists)]
pub struct NewSpecialist {
    pub id: SpecialistId,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub role: Role,
    pub skills: Vec<String>,
    pub languages: Vec<String>,
    pub max_concurrent_chats: i32,
}

/// The fields an admin may change; `None` leaves a field as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = specialists)]
pub struct SpecialistChanges {
    pub name: Option<String>,
    pub password_hash: Option<String>,
    pub role: Option<Role>,
    pub skills: Option<Vec<String>>,
    pub languages: Option<Vec<String>>,
    pub max_concurrent_chats: Option<i32>,
    pub disabled_at: Option<Option<DateTime<Utc>>>,
}

pub fn insert(conn: &mut PgConnection, specialist: &NewSpecialist) -> QueryResult<Specialist> {
    diesel::insert_into(specialists::table)
        .values(specialist)
        .returning(Specialist::as_returning())
        .get_result(conn)
}

pub fn find(conn: &mut PgConnection, id: SpecialistId) -> QueryResult<Option<Specialist>> {
    specialists::table
        .find(id)
        .select(Specialist::as_select())
        .first(conn)
        .optional()
}

pub fn find_by_email(conn: &mut PgConnection, email: &str) -> QueryResult<Option<Specialist>> {
    specialists::table
        .filter(specialists::email.eq(email))
        .select(Specialist::as_select())
        .first(conn)
        .optional()
}

pub fn list(conn: &mut PgConnection) -> QueryResult<Vec<Specialist>> {
    specialists::table
        .select(Specialist::as_select())
        .order((specialists::name.asc(), specialists::id.asc()))
        .load(conn)
}

pub fn update(
    conn: &mut PgConnection,
    id: SpecialistId,
    changes: &SpecialistChanges,
) -> QueryResult<Option<Specialist>> {
    diesel::update(specialists::table.find(id))
        .set(changes)
        .returning(Specialist::as_returning())
        .get_result(conn)
        .optional()
}

/// Locks the specialists' rows until the transaction ends, in the order given (callers
/// sort them by id, so two transactions never wait on each other).
pub fn lock(conn: &mut PgConnection, ids: &[SpecialistId]) -> QueryResult<()> {
    for id in ids {
        specialists::table
            .find(*id)
            .select(specialists::id)
            .for_update()
            .get_result::<SpecialistId>(conn)
            .optional()?;
    }
    Ok(())
}

/// Whether `specialist` has a free chat slot for `session`, counted from what is stored,
/// with their row locked until the transaction ends: two nodes assigning to the same
/// specialist at once take turns, and the second sees the first's chat.
pub fn has_free_slot(
    conn: &mut PgConnection,
    specialist: SpecialistId,
    session: SessionId,
) -> QueryResult<bool> {
    let max: i32 = specialists::table
        .find(specialist)
        .select(specialists::max_concurrent_chats)
        .for_update()
        .get_result(conn)?;
    let open: i64 = chat_sessions::table
        .filter(chat_sessions::specialist_id.eq(specialist))
        .filter(chat_sessions::status.eq(SessionStatus::Active))
        .filter(chat_sessions::id.ne(session))
        .count()
        .get_result(conn)?;
    Ok(open < i64::from(max))
}
