//! Webhooks, their outbox and their deliveries. The outbox is filled by
//! `webhooks::outbox` inside chat transactions; everything here runs off the chat path:
//! admin calls and the deliverer.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Timestamptz};

use super::schema::{webhook_attempts, webhook_deliveries, webhook_outbox, webhooks};
use crate::domain::{SpecialistId, WebhookEventId, WebhookId};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = webhooks)]
pub struct Webhook {
    pub id: WebhookId,
    pub url: String,
    pub events: Vec<String>,
    pub secret: String,
    pub created_by: Option<SpecialistId>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_attempts)]
pub struct Attempt {
    pub event_id: WebhookEventId,
    pub event: String,
    pub attempt: i32,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub at: DateTime<Utc>,
}

/// An event one webhook still has to receive.
#[derive(Debug, Clone, Queryable)]
pub struct Due {
    pub event_id: WebhookEventId,
    pub attempts: i32,
    pub event: String,
    pub data: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// What became of one attempt.
pub enum Outcome {
    Delivered,
    RetryAt(DateTime<Utc>),
    GaveUp,
}

pub fn insert(
    conn: &mut PgConnection,
    url: &str,
    events: &[String],
    secret: &str,
    created_by: SpecialistId,
) -> QueryResult<Webhook> {
    diesel::insert_into(webhooks::table)
        .values((
            webhooks::id.eq(WebhookId::new()),
            webhooks::url.eq(url),
            webhooks::events.eq(events),
            webhooks::secret.eq(secret),
            webhooks::created_by.eq(created_by),
        ))
        .returning(Webhook::as_returning())
        .get_result(conn)
}

pub fn list(conn: &mut PgConnection) -> QueryResult<Vec<Webhook>> {
    webhooks::table
        .select(Webhook::as_select())
        .order((webhooks::created_at.asc(), webhooks::id.asc()))
        .load(conn)
}

pub fn find(conn: &mut PgConnection, id: WebhookId) -> QueryResult<Option<Webhook>> {
    webhooks::table
        .find(id)
        .select(Webhook::as_select())
        .first(conn)
        .optional()
}

/// Deletes the webhook with its pending deliveries and history; false when there was none.
pub fn delete(conn: &mut PgConnection, id: WebhookId) -> QueryResult<bool> {
    Ok(diesel::delete(webhooks::table.find(id)).execute(conn)? > 0)
}

/// Every webhook's events, for the in-memory subscription summary.
pub fn subscribed_events(conn: &mut PgConnection) -> QueryResult<Vec<Vec<String>>> {
    webhooks::table.select(webhooks::events).load(conn)
}

/// The newest attempts first.
pub fn attempts(conn: &mut PgConnection, id: WebhookId, limit: i64) -> QueryResult<Vec<Attempt>> {
    webhook_attempts::table
        .filter(webhook_attempts::webhook_id.eq(id))
        .order((webhook_attempts::at.desc(), webhook_attempts::id.desc()))
        .limit(limit)
        .select(Attempt::as_select())
        .load(conn)
}

/// Turns up to `limit` new outbox events into one pending delivery per webhook that
/// subscribes to them (and existed when they happened). Several servers on one database
/// would not fan an event out twice: the rows are claimed with `SKIP LOCKED`.
pub fn fan_out(conn: &mut PgConnection, limit: i64) -> QueryResult<usize> {
    diesel::sql_query(
        "WITH batch AS ( \
             SELECT id, event, created_at FROM webhook_outbox \
             WHERE fanned_out_at IS NULL ORDER BY created_at LIMIT $1 \
             FOR UPDATE SKIP LOCKED \
         ), fanned AS ( \
             INSERT INTO webhook_deliveries (webhook_id, event_id, next_attempt_at) \
             SELECT w.id, b.id, now() FROM batch b \
             JOIN webhooks w ON b.event = ANY (w.events) AND w.created_at <= b.created_at \
             ON CONFLICT DO NOTHING \
         ) \
         UPDATE webhook_outbox SET fanned_out_at = now() \
         WHERE id IN (SELECT id FROM batch)",
    )
    .bind::<BigInt, _>(limit)
    .execute(conn)
}

/// Deletes up to `limit` events that happened before `before` and are settled (fanned
/// out, and delivered or given up for every webhook), oldest first; their deliveries and
/// attempts go with them.
pub fn prune(conn: &mut PgConnection, before: DateTime<Utc>, limit: i64) -> QueryResult<usize> {
    diesel::sql_query(
        "DELETE FROM webhook_outbox WHERE id IN ( \
             SELECT o.id FROM webhook_outbox o \
             WHERE o.created_at < $1 AND o.fanned_out_at IS NOT NULL \
               AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = o.id \
                               AND d.delivered_at IS NULL AND d.gave_up_at IS NULL) \
             ORDER BY o.created_at LIMIT $2)",
    )
    .bind::<Timestamptz, _>(before)
    .bind::<BigInt, _>(limit)
    .execute(conn)
}

/// Webhooks with at least one delivery whose time has come.
pub fn with_due_deliveries(conn: &mut PgConnection) -> QueryResult<Vec<WebhookId>> {
    webhook_deliveries::table
        .filter(webhook_deliveries::delivered_at.is_null())
        .filter(webhook_deliveries::gave_up_at.is_null())
        .filter(webhook_deliveries::next_attempt_at.le(diesel::dsl::now))
        .select(webhook_deliveries::webhook_id)
        .distinct()
        .load(conn)
}

/// The webhook's deliveries whose time has come, oldest event first.
pub fn due(conn: &mut PgConnection, webhook: WebhookId, limit: i64) -> QueryResult<Vec<Due>> {
    webhook_deliveries::table
        .inner_join(webhook_outbox::table)
        .filter(webhook_deliveries::webhook_id.eq(webhook))
        .filter(webhook_deliveries::delivered_at.is_null())
        .filter(webhook_deliveries::gave_up_at.is_null())
        .filter(webhook_deliveries::next_attempt_at.le(diesel::dsl::now))
        .order((webhook_outbox::created_at.asc(), webhook_outbox::id.asc()))
        .limit(limit)
        .select((
            webhook_outbox::id,
            webhook_deliveries::attempts,
            webhook_outbox::event,
            webhook_outbox::data,
            webhook_outbox::created_at,
        ))
        .load(conn)
}

/// Records an attempt in the history and moves the delivery on, in one transaction.
pub fn record_attempt(
    conn: &mut PgConnection,
    webhook: WebhookId,
    due: &Due,
    status_code: Option<i32>,
    error: Option<&str>,
    outcome: Outcome,
) -> QueryResult<()> {
    let attempt = due.attempts + 1;
    conn.transaction(|conn| {
        let (delivered_at, gave_up_at, next_attempt_at) = match outcome {
            Outcome::Delivered => (Some(Utc::now()), None, None),
            Outcome::GaveUp => (None, Some(Utc::now()), None),
            Outcome::RetryAt(at) => (None, None, Some(at)),
        };
        let updated = diesel::update(webhook_deliveries::table.find((webhook, due.event_id)))
            .set((
                webhook_deliveries::attempts.eq(attempt),
                webhook_deliveries::delivered_at.eq(delivered_at),
                webhook_deliveries::gave_up_at.eq(gave_up_at),
                next_attempt_at.map(|at| webhook_deliveries::next_attempt_at.eq(at)),
            ))
            .execute(conn)?;
        if updated == 0 {
            // The webhook was deleted while the request was in flight.
            return Ok(());
        }
        diesel::insert_into(webhook_attempts::table)
            .values((
                webhook_attempts::webhook_id.eq(webhook),
                webhook_attempts::event_id.eq(due.event_id),
                webhook_attempts::event.eq(&due.event),
                webhook_attempts::attempt.eq(attempt),
                webhook_attempts::status_code.eq(status_code),
                webhook_attempts::error.eq(error),
            ))
            .execute(conn)?;
        Ok(())
    })
}
