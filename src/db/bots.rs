//! Bots: API clients that hand conversations over. Revoking one invalidates every token
//! it holds, because each request checks `revoked_at`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::bots;
use crate::domain::BotId;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = bots)]
pub struct Bot {
    pub id: BotId,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

pub fn insert(conn: &mut PgConnection, id: BotId, name: &str) -> QueryResult<Bot> {
    diesel::insert_into(bots::table)
        .values((bots::id.eq(id), bots::name.eq(name)))
        .returning(Bot::as_returning())
        .get_result(conn)
}

pub fn find(conn: &mut PgConnection, id: BotId) -> QueryResult<Option<Bot>> {
    bots::table
        .find(id)
        .select(Bot::as_select())
        .first(conn)
        .optional()
}

pub fn list(conn: &mut PgConnection) -> QueryResult<Vec<Bot>> {
    bots::table
        .select(Bot::as_select())
        .order(bots::created_at.asc())
        .load(conn)
}

/// Marks the bot revoked; returns it, or `None` when there is no such bot.
pub fn revoke(conn: &mut PgConnection, id: BotId) -> QueryResult<Option<Bot>> {
    diesel::update(bots::table.find(id))
        .set(bots::revoked_at.eq(chrono::Utc::now()))
        .returning(Bot::as_returning())
        .get_result(conn)
        .optional()
}
