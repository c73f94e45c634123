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

/// A visitor opening a conversation from this node, and where it is written.
pub struct Opener<'a> {
    pub persistence: &'a Persistence,
    pub db: &'a Db,
    pub webhooks: &'a Arc<Webhooks>,
    pub visitor: VisitorId,
    pub origin: Origin,
    /// In a cluster, this node: the new session's first writer.
    pub owner: Option<String>,
}

/// What `message.leave` without a session comes to.
pub enum Leaving {
    /// A new offline session holding the message.
    Created(SessionView),
    /// The visitor's open session, which takes the message itself.
    Open(SessionView),
}

impl Opener<'_> {
    /// Creates the visitor's session, or finds the open one they already have.
    /// `closed` is the refusal when business hours are over: it applies only to a new
    /// session.
    pub async fn start(self, opening: Opening, closed: Option<Error>) -> Result<SessionView> {
        let visitor = self.visitor;
        let new = opening.into_row(visitor, self.origin);
        let webhooks = self.webhooks.clone();
        let created = Event {
            kind: SessionEvent::Queued,
            actor: Some((ParticipantType::Visitor, Some(visitor.0))),
            data: serde_json::json!({}),
        };
        let owner = self.owner;
        // A refusal is an answer (`Ok(Err(..))`), not a failure of the transaction.
        let work = Transact::new(move |conn| {
            if let Some(open) = db::sessions::open_for_visitor(conn, visitor)?.pop() {
                return Ok(Ok(open));
            }
            if let Some(closed) = &closed {
                return Ok(Err(closed.clone()));
            }
            create(conn, &webhooks, &new, &[], &created, owner.as_deref()).map(Ok)
        });
        match self.persistence.transact(work).await {
            Ok(started) => started,
            // Another tab started one at the same moment: that one is ours too.
            Err(error) if error.code == ErrorCode::Conflict => the_open_one(self.db, visitor).await,
            Err(error) => Err(error),
        }
    }

    /// Stores a message left by a visitor with no open conversation as a new `offline`
    /// session, outside the queue.
    pub async fn leave(self, left: LeftMessage) -> Result<Leaving> {
        let visitor = self.visitor;
        let mut new = Opening::parse(OpeningInput::default())?.into_row(visitor, self.origin);
        new.status = SessionStatus::Offline;
        new.callback_requested = left.contact.callback;
        new.left_message_at = Some(Utc::now());
        let webhooks = self.webhooks.clone();
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
        let owner = self.owner;
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
        match self.persistence.transact(work).await {
            // Another tab opened one at the same moment: the message goes there.
            Err(error) if error.code == ErrorCode::Conflict => {
                Ok(Leaving::Open(the_open_one(self.db, visitor).await?))
            }
            other => other,
        }
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
