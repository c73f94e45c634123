//! Website visitors: anonymous by default, known by `external_id` when a bot hands them
//! over.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text};

use super::schema::visitors;
use crate::domain::VisitorId;

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

diesel::define_sql_function!(fn coalesce(value: Nullable<Text>, fallback: Nullable<Text>) -> Nullable<Text>);

/// The visitor a bot knows by `visitor.external_id`: created the first time, reused (with
/// the details the bot now sends filled in) every time after. One statement, so two
/// handoffs of the same visitor at once still end up with one row.
pub fn upsert_by_external_id(
    conn: &mut PgConnection,
    visitor: &NewVisitor,
) -> QueryResult<Visitor> {
    use diesel::upsert::excluded;
    diesel::insert_into(visitors::table)
        .values(visitor)
        .on_conflict(visitors::external_id)
        .do_update()
        .set((
            visitors::name.eq(coalesce(excluded(visitors::name), visitors::name)),
            visitors::email.eq(coalesce(excluded(visitors::email), visitors::email)),
            visitors::phone.eq(coalesce(excluded(visitors::phone), visitors::phone)),
        ))
        .returning(Visitor::as_returning())
        .get_result(conn)
}
