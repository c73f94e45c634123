//! The business hours row (SPEC section 14): at most one, holding the schedule as the
//! normalised JSON document; `crate::hours` parses it and keeps the copy requests read.

use diesel::prelude::*;
use diesel::upsert::excluded;

use crate::domain::SpecialistId;

diesel::table! {
    business_hours (id) {
        id -> Bool,
        schedule -> Jsonb,
        updated_at -> Timestamptz,
        updated_by -> Nullable<Uuid>,
    }
}

/// The stored schedule; `None` when none was ever set.
pub fn load(conn: &mut PgConnection) -> QueryResult<Option<serde_json::Value>> {
    business_hours::table
        .select(business_hours::schedule)
        .first(conn)
        .optional()
}

/// Removes the schedule: the chat is always open again.
pub fn remove(conn: &mut PgConnection) -> QueryResult<()> {
    diesel::delete(business_hours::table)
        .execute(conn)
        .map(drop)
}

/// Replaces the schedule with `schedule`, set by `by`.
pub fn store(
    conn: &mut PgConnection,
    schedule: &serde_json::Value,
    by: SpecialistId,
) -> QueryResult<()> {
    diesel::insert_into(business_hours::table)
        .values((
            business_hours::id.eq(true),
            business_hours::schedule.eq(schedule),
            business_hours::updated_by.eq(by),
        ))
        .on_conflict(business_hours::id)
        .do_update()
        .set((
            business_hours::schedule.eq(excluded(business_hours::schedule)),
            business_hours::updated_at.eq(diesel::dsl::now),
            business_hours::updated_by.eq(excluded(business_hours::updated_by)),
        ))
        .execute(conn)
        .map(drop)
}
