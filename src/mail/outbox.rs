//! Writing mail to the outbox, always inside the transaction of the change that causes
//! it: a reply's mail commits exactly when the reply does, so a crash can lose neither
//! one alone, and the chat never waits for a mail server. The sender picks the row up
//! within a second of the commit.

use diesel::PgConnection;

use super::Mail;
use crate::db;
use crate::error::Result;

/// Writes `mail` to the outbox in the caller's transaction.
pub fn write(conn: &mut PgConnection, mail: &Mail) -> Result<()> {
    db::mail::insert(conn, mail)?;
    Ok(())
}
