//! Opening a conversation as a visitor: the session is created (or the open one they
//! already have is found) in one group-committed transaction.

use std::sync::Arc;

use super::commit::create;
use crate::actors::persistence::{Persistence, Transact};
use crate::conversation::{Event, Opening, Origin};
use crate::db::sessions::SessionView;
use crate::db::{self, Db};
use crate::domain::{ParticipantType, SessionEvent, VisitorId};
use crate::error::{Error, ErrorCode, Result};
use crate::webhooks::Webhooks;

/// Creates the visitor's session, or finds the open one they already have.
pub async fn start(
    persistence: &Persistence,
    db: &Db,
    webhooks: &Arc<Webhooks>,
    visitor: VisitorId,
    opening: Opening,
    origin: Origin,
    owner: Option<String>,
) -> Result<SessionView> {
    let new = opening.into_row(visitor, origin);
    let webhooks = webhooks.clone();
    let created = Event {
        kind: SessionEvent::Queued,
        actor: Some((ParticipantType::Visitor, Some(visitor.0))),
        data: serde_json::json!({}),
    };
    let work = Transact::new(move |conn| {
        if let Some(open) = db::sessions::open_for_visitor(conn, visitor)?.pop() {
            return Ok(open);
        }
        create(conn, &webhooks, &new, &[], &created, owner.as_deref())
    });
    match persistence.transact(work).await {
        Err(error) if error.code == ErrorCode::Conflict => {
            // Another tab started one at the same moment: that one is ours too.
            db.run(move |conn| {
                db::sessions::open_for_visitor(conn, visitor)?
                    .pop()
                    .ok_or_else(|| Error::internal("open session vanished"))
            })
            .await
        }
        other => other,
    }
}
