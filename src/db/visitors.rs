//! Website visitors: anonymous by default, known by `external_id` when a bot hands them
//! over.
//!
//! An `external_id` is the bot's own name for a person (a CRM's or a shop's id), so it
//! means something only to the bot that gave it: the column `bot_id` records that bot,
//! and a visitor is found by the pair, never by the id alone. Another bot sending the
//! same `external_id` gets a visitor of its own, not a token for this one (SPEC section
//! 12). `bot_id` is written only here, when a bot hands a visitor over; the rows below
//! leave it out, as nothing outside this lookup needs it.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text};

use super::schema::visitors;
use crate::domain::{BotId, VisitorId};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = visitors)]
pub struct Visitor {
    pub id: VisitorId,
    pub external_id: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = visitors)]
pub struct NewVisitor {
    pub id: VisitorId,
    pub external_id: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

pub fn insert(conn: &mut PgConnection, visitor: &NewVisitor) -> QueryResult<Visitor> {
    diesel::insert_into(visitors::table)
        .values(visitor)
        .returning(Visitor::as_returning())
        .get_result(conn)
}

pub fn find(conn: &mut PgConnection, id: VisitorId) -> QueryResult<Option<Visitor>> {
    visitors::table
        .find(id)
        .select(Visitor::as_select())
        .first(conn)
        .optional()
}

/// What a visitor who left a message gave to be reached at: the e-mail replaces the one
/// on record; a name or phone left out keeps the one known before.
pub fn set_contact(
    conn: &mut PgConnection,
    id: VisitorId,
    email: &str,
    name: Option<&str>,
    phone: Option<&str>,
) -> QueryResult<Visitor> {
    diesel::update(visitors::table.find(id))
        .set((
            visitors::email.eq(email),
            visitors::name.eq(coalesce(name, visitors::name)),
            visitors::phone.eq(coalesce(phone, visitors::phone)),
        ))
        .returning(Visitor::as_returning())
        .get_result(conn)
}

diesel::define_sql_function!(fn coalesce(value: Nullable<Text>, fallback: Nullable<Text>) -> Nullable<Text>);

/// The visitor `bot` knows by `visitor.external_id`: created the first time, reused (with
/// the details the bot now sends filled in) every time after. Only the visitors this bot
/// handed over are looked at; the same `external_id` from another bot is another person.
/// One statement, so two handoffs of the same visitor at once still end up with one row.
pub fn upsert_by_external_id(
    conn: &mut PgConnection,
    bot: BotId,
    visitor: &NewVisitor,
) -> QueryResult<Visitor> {
    use diesel::upsert::excluded;
    diesel::insert_into(visitors::table)
        .values((visitor, visitors::bot_id.eq(bot)))
        .on_conflict((visitors::bot_id, visitors::external_id))
        .do_update()
        .set((
            visitors::name.eq(coalesce(excluded(visitors::name), visitors::name)),
            visitors::email.eq(coalesce(excluded(visitors::email), visitors::email)),
            visitors::phone.eq(coalesce(excluded(visitors::phone), visitors::phone)),
        ))
        .returning(Visitor::as_returning())
        .get_result(conn)
}
