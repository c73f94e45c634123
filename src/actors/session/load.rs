//! Restoring a conversation from the database when its actor starts: everything a
//! `Conversation` holds, read in one go.

use diesel::PgConnection;

use crate::conversation::{Restored, RECENT, REMEMBERED_KEYS};
use crate::db::{self, messages::Page};
use crate::domain::SessionId;
use crate::error::{Error, Result};
use crate::protocol::objects::Message;

/// The conversation of session `id`, or `None` when there is no such session. In a
/// cluster, `claim_as` (this node) claims the session first, so everything read after
/// includes what its previous writer committed; another live node's session is
/// refused as moved.
pub fn restore(
    conn: &mut PgConnection,
    id: SessionId,
    claim_as: Option<&str>,
) -> Result<Option<Restored>> {
    if let Some(node) = claim_as {
        if db::ownership::claim_session(conn, id, node)?.is_none() {
            return match db::ownership::owner(conn, id)? {
                db::ownership::Owner::Missing => Ok(None),
                _ => Err(Error::moved()),
            };
        }
    }
    let Some(view) = db::sessions::find_view(conn, id)? else {
        return Ok(None);
    };
    let (recent, _) = db::messages::page(conn, id, Page::Before(i32::MAX), RECENT as i64, true)?;
    Ok(Some(Restored {
        keys: db::messages::client_keys(conn, id, REMEMBERED_KEYS as i64)?,
        recent: recent.iter().map(Message::from_stored).collect(),
        read: db::read_cursors::for_session(conn, id)?,
        took_part: db::sessions::participants(conn, id)?,
        view,
    }))
}
