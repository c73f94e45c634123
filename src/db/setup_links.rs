//! The one-time links that create the first admin; see `crate::first_run`.

use diesel::prelude::*;

use super::schema::{setup_links, specialists};
use crate::domain::Role;

/// Whether an enabled admin exists: then no setup link is valid.
pub fn admin_exists(conn: &mut PgConnection) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        specialists::table
            .filter(specialists::role.eq(Role::Admin))
            .filter(specialists::disabled_at.is_null()),
    ))
    .get_result(conn)
}

/// Stores a new link; the links of earlier starts (of any node) stay valid with it.
pub fn insert(conn: &mut PgConnection, token_sha256: &[u8]) -> QueryResult<()> {
    diesel::insert_into(setup_links::table)
        .values(setup_links::token_sha256.eq(token_sha256))
        .execute(conn)
        .map(drop)
}

/// Whether `token_sha256` is a link that still works.
pub fn is_valid(conn: &mut PgConnection, token_sha256: &[u8]) -> QueryResult<bool> {
    if admin_exists(conn)? {
        return Ok(false);
    }
    diesel::select(diesel::dsl::exists(
        setup_links::table.filter(setup_links::token_sha256.eq(token_sha256)),
    ))
    .get_result(conn)
}

/// Uses the link up, and every other with it, if it still works; a link that does not
/// work changes nothing. Call inside the transaction that creates the admin: the table
/// lock makes two uses at once (of one link or of two) take turns, so the second finds
/// its link gone or an admin there.
pub fn consume(conn: &mut PgConnection, token_sha256: &[u8]) -> QueryResult<bool> {
    diesel::sql_query("LOCK TABLE setup_links IN EXCLUSIVE MODE").execute(conn)?;
    if !is_valid(conn, token_sha256)? {
        return Ok(false);
    }
    diesel::delete(setup_links::table).execute(conn)?;
    Ok(true)
}
