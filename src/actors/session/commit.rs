//! The one place a conversation's change is written: checks that may refuse first (the
//! file to send, the scheduled message still pending), then the messages, the session
//! row, the audit entry and the webhook events, all in the caller's transaction. A
//! refusal is an answer (`Ok(Err(..))`), not a failure, so it never fails the other
//! writes group commit merged into the same transaction.

use diesel::PgConnection;

use crate::conversation::{Change, FileToSend, ScheduledUpdate, Stored};
use crate::db::messages::Epochs;
use crate::db::sessions::SessionView;
use crate::db::{self, sessions::NewChatSession};
use crate::domain::SessionId;
use crate::error::{Error, Result};
use crate::mail;
use crate::webhooks::{outbox, WebhookEvent, Webhooks};

/// Writes `change` if `epoch` is still the session's writer's; the outer result is a
/// database failure, the inner one a refusal.
pub fn commit(
    conn: &mut PgConnection,
    webhooks: &Webhooks,
    change: &Change,
    epoch: i64,
) -> Result<Result<Stored>> {
    let id = change.session;
    db::ownership::fence(conn, id, epoch)?;
    let mut stored = Stored::default();
    if let Some(file) = change.file {
        match file_to_send(conn, id, file) {
            Err(error) if error.is_refusal() => return Ok(Err(error)),
            file => stored.file = Some(file?),
        }
    }
    // A due message is sent only while it is still pending: an unschedule may have won.
    let still_pending = match change.scheduled {
        Some(ScheduledUpdate::Sent {
            id: scheduled,
            seq,
            at,
        }) => db::scheduled_messages::mark_sent(conn, scheduled, seq, at)?,
        Some(ScheduledUpdate::Cancelled(scheduled)) => {
            db::scheduled_messages::cancel(conn, scheduled)?;
            true
        }
        None => true,
    };
    if !still_pending {
        return Ok(Err(Error::conflict("already sent or cancelled")));
    }
    // The dispatcher's roster counts each specialist's chats, but only this transaction
    // sees every node's assignments (a dispatcher taking over, one paused past its lease).
    if let Some(specialist) = change.participant.filter(|_| !change.beyond_capacity) {
        if !db::specialists::has_free_slot(conn, specialist, id)? {
            return Ok(Err(Error::conflict("the specialist has no free chat slot")));
        }
    }
    if let Some(row) = &change.new_scheduled {
        stored.scheduled = Some(db::scheduled_messages::insert_or_find(conn, row)?);
    }
    db::messages::insert_batch(conn, &change.messages, &Epochs::one(id, epoch))?;
    if let Some(changes) = &change.row {
        stored.row = Some(db::sessions::update(conn, id, changes)?);
    }
    if let Some((visitor, contact)) = &change.contact {
        stored.visitor = Some(db::visitors::set_contact(
            conn,
            *visitor,
            contact.email.as_str(),
            contact.name.as_deref(),
            contact.phone.as_deref(),
        )?);
    }
    if let Some(mail) = &change.mail {
        mail::outbox::write(conn, mail)?;
    }
    if let Some(specialist) = change.participant {
        db::sessions::add_participant(conn, id, specialist)?;
    }
    if let Some(cursor) = change.read_cursor {
        db::read_cursors::advance(conn, id, cursor.kind, cursor.reader, cursor.seq)?;
    }
    if let Some(tags) = &change.tags {
        db::session_tags::replace(conn, id, tags)?;
    }
    if let Some(event) = &change.event {
        db::events::record(conn, id, event.kind, event.actor, event.data.clone())?;
    }
    if let Some(webhook) = change.webhook {
        let actor = change.event.as_ref().and_then(|e| e.actor);
        outbox::session_changed(conn, webhooks, webhook, id, actor)?;
    }
    outbox::messages_created(conn, webhooks, &change.messages)?;
    if change.cancel_scheduled {
        stored.cancelled = db::scheduled_messages::cancel_for_session(conn, id)?;
    }
    Ok(Ok(stored))
}

/// Stores a new conversation: its row, its first messages (a handoff's transcript), the
/// audit entry and webhook of its creation. Returns it as clients are shown it. In a
/// cluster, `owner` (the creating node) becomes its first writer.
pub fn create(
    conn: &mut PgConnection,
    webhooks: &Webhooks,
    session: &NewChatSession,
    messages: &[db::messages::Message],
    created: &crate::conversation::Event,
    owner: Option<&str>,
) -> Result<SessionView> {
    let row = db::sessions::insert(conn, session)?;
    let epoch = match owner {
        Some(node) => db::ownership::claim_session(conn, row.id, node)?
            .ok_or_else(|| Error::internal("a new session could not be claimed"))?,
        None => row.owner_epoch,
    };
    db::messages::insert_batch(conn, messages, &Epochs::one(row.id, epoch))?;
    db::events::record(
        conn,
        row.id,
        created.kind,
        created.actor,
        created.data.clone(),
    )?;
    let event = WebhookEvent::SessionCreated;
    outbox::session_changed(conn, webhooks, event, row.id, created.actor)?;
    outbox::messages_created(conn, webhooks, messages)?;
    db::sessions::find_view(conn, row.id)?.ok_or_else(|| Error::internal("session vanished"))
}

/// The attachment the sender may send in session `id`: uploaded there by them and not in
/// any message yet.
pub fn file_to_send(
    conn: &mut PgConnection,
    id: SessionId,
    file: FileToSend,
) -> Result<db::attachments::Attachment> {
    let stored = db::attachments::find(conn, file.attachment)?
        .filter(|stored| stored.session_id == id)
        .ok_or_else(|| Error::not_found("no such attachment in this session"))?;
    if Some(stored.uploaded_by) != file.uploader {
        return Err(Error::forbidden("only its uploader may send an attachment"));
    }
    if db::attachments::is_sent(conn, file.attachment)? {
        return Err(Error::conflict("this attachment has already been sent"));
    }
    Ok(stored)
}
