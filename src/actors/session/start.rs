//! Opening a conversation as a visitor, in one group-committed transaction: a chat
//! (`session.start`, only during business hours) or a message left for later
//! (`message.leave` without a session). A visitor who already has an open conversation
//! gets that one instead.

use std::sync::Arc;

use chrono::Utc;

use super::commit::create;
use crate::actors::persistence::{Persistence, Transact};
use crate::conversation::{Event, LeftMessage, Opening, OpeningInput, Origin};
use crate::db::sessions::SessionView;
use crate::db::{self, Db};
use crate::domain::{
    MessageId, MessageKind, ParticipantType, SessionEvent, SessionStatus, VisitorId,
};
use crate::error::{Error, ErrorCode, Result};
use crate::webhooks::Webhooks;

/// Creates the visitor's session, or finds the open one they already have. `closed` is
/// the refusal when business hours are over: it applies only to a new session.
#[allow(clippy::too_many_arguments)]
pub async fn start(
    persistence: &Persistence,
    db: &Db,
    webhooks: &Arc<Webhooks>,
    visitor: VisitorId,
    opening: Opening,
    origin: Origin,
    owner: Option<String>,
    closed: Option<Error>,
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
        if let Some(closed) = &closed {
            return Err(closed.clone());
        }
        create(conn, &webhooks, &new, &[], &created, owner.as_deref())
    });
    or_the_open_one(persistence.transact(work).await, db, visitor).await
}

/// What `message.leave` without a session comes to.
pub enum Leaving {
    /// A new offline session holding the message.
    Created(SessionView),
    /// The visitor's open session, which takes the message itself.
    Open(SessionView),
}

/// Stores a message left by a visitor with no open conversation as a new `offline`
/// session, outside the queue.
pub async fn leave(
    persistence: &Persistence,
    db: &Db,
    webhooks: &Arc<Webhooks>,
    visitor: VisitorId,
    left: LeftMessage,
    origin: Origin,
    owner: Option<String>,
) -> Result<Leaving> {
    let mut new = Opening::parse(OpeningInput::default())?.into_row(visitor, origin);
    new.status = SessionStatus::Offline;
    new.callback_requested = left.contact.callback;
    new.left_message_at = Some(Utc::now());
    let webhooks = webhooks.clone();
    let created = Event {
        kind: SessionEvent::LeftMessage,
        actor: Some((ParticipantType::Visitor, Some(visitor.0))),
        data: serde_json::json!({}),
    };
    let message = db::messages::Message {
        id: MessageId::new(),
        session_id: new.id,
        seq: 1,
        sender_type: ParticipantType::Visitor,
        sender_id: Some(visitor.0),
        kind: MessageKind::Text,
        body: left.body.into_inner(),
        attachment_id: None,
        client_msg_id: None,
        created_at: Utc::now(),
    };
    let contact = left.contact;
    let work = Transact::new(move |conn| {
        if let Some(open) = db::sessions::open_for_visitor(conn, visitor)?.pop() {
            return Ok(Leaving::Open(open));
        }
        db::visitors::set_contact(
            conn,
            visitor,
            contact.email.as_str(),
            contact.name.as_deref(),
            contact.phone.as_deref(),
        )?;
        let messages = std::slice::from_ref(&message);
        let view = create(conn, &webhooks, &new, messages, &created, owner.as_deref())?;
        Ok(Leaving::Created(view))
    });
    match persistence.transact(work).await {
        Err(error) if error.code == ErrorCode::Conflict => {
            // Another tab opened one at the same moment: the message goes there.
            Ok(Leaving::Open(the_open_one(db, visitor).await?))
        }
        other => other,
    }
}

async fn or_the_open_one(
    created: Result<SessionView>,
    db: &Db,
    visitor: VisitorId,
) -> Result<SessionView> {
    match created {
        // Another tab started one at the same moment: that one is ours too. (A refusal
        // because the chat is closed is a conflict too, but finds no open session.)
        Err(error) if error.code == ErrorCode::Conflict => {
            the_open_one(db, visitor).await.map_err(|_| error)
        }
        other => other,
    }
}

async fn the_open_one(db: &Db, visitor: VisitorId) -> Result<SessionView> {
    db.run(move |conn| {
        db::sessions::open_for_visitor(conn, visitor)?
            .pop()
            .ok_or_else(|| Error::internal("open session vanished"))
    })
    .await
}
