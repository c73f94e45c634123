//! Writing events to the outbox, always inside the transaction of the change they report:
//! the event commits exactly when the change does, so a crash can lose neither one alone.
//! Nothing is written for an event no webhook subscribes to; on the message path that
//! check is the only work done when there are no subscribers.

use diesel::pg::PgConnection;
use diesel::prelude::*;
use serde_json::json;

use super::{WebhookEvent, Webhooks};
use crate::db::{self, messages::Message as MessageRow, schema::webhook_outbox};
use crate::domain::{MessageKind, ParticipantType, SessionId, WebhookEventId};
use crate::error::{Error, Result};
use crate::protocol::objects::{Audience, Message, Session};

/// `message.created` for every message of the batch but notes, as one multi-row insert.
pub fn messages_created(
    conn: &mut PgConnection,
    webhooks: &Webhooks,
    messages: &[MessageRow],
) -> Result<()> {
    if !webhooks.subscriptions.wants(WebhookEvent::MessageCreated) {
        return Ok(());
    }
    let rows: Vec<_> = messages
        .iter()
        .filter(|row| row.kind != MessageKind::Note)
        .map(|row| {
            (
                webhook_outbox::id.eq(WebhookEventId::new()),
                webhook_outbox::event.eq(WebhookEvent::MessageCreated.as_str()),
                webhook_outbox::data.eq(message_data(row)),
            )
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    diesel::insert_into(webhook_outbox::table)
        .values(rows)
        .execute(conn)?;
    webhooks.mark_written();
    Ok(())
}

/// A `session.*` event carrying the session as it is after the change (as staff see it:
/// the webhook is an admin's integration) and who caused it.
pub fn session_changed(
    conn: &mut PgConnection,
    webhooks: &Webhooks,
    event: WebhookEvent,
    session: SessionId,
    actor: Option<(ParticipantType, Option<uuid::Uuid>)>,
) -> Result<()> {
    if !webhooks.subscriptions.wants(event) {
        return Ok(());
    }
    let view = db::sessions::find_view(conn, session)?
        .ok_or_else(|| Error::internal("the changed session vanished"))?;
    let mut data = json!({ "session": Session::for_audience(&view, Audience::Staff) });
    if let Some((kind, id)) = actor {
        data["actor"] = json!({ "type": kind, "id": id });
    }
    diesel::insert_into(webhook_outbox::table)
        .values((
            webhook_outbox::id.eq(WebhookEventId::new()),
            webhook_outbox::event.eq(event.as_str()),
            webhook_outbox::data.eq(data),
        ))
        .execute(conn)?;
    webhooks.mark_written();
    Ok(())
}

/// The message as participants see it; a file message also names its attachment, whose
/// details the receiver can fetch through the API.
fn message_data(row: &MessageRow) -> serde_json::Value {
    let mut data = json!({ "message": Message::from_row(row, None) });
    if let Some(attachment) = row.attachment_id {
        data["message"]["attachment_id"] = json!(attachment);
    }
    data
}
