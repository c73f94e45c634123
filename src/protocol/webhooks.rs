//! Webhook wire types: the management API's objects and the envelope every delivery
//! POSTs. Separate from the rows in `db::webhooks`: a webhook's secret is a column but
//! never part of a listed object.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db;
use crate::domain::{WebhookEventId, WebhookId};
use crate::webhooks::WebhookEvent;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Webhook {
    pub id: WebhookId,
    pub url: String,
    pub events: Vec<WebhookEvent>,
    pub created_at: DateTime<Utc>,
}

impl From<db::webhooks::Webhook> for Webhook {
    fn from(row: db::webhooks::Webhook) -> Self {
        Self {
            id: row.id,
            url: row.url,
            events: row
                .events
                .iter()
                .filter_map(|name| WebhookEvent::parse(name))
                .collect(),
            created_at: row.created_at,
        }
    }
}

/// One attempt to deliver one event.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Delivery {
    pub event_id: WebhookEventId,
    pub event: String,
    /// 1 for the first attempt, counting up with each retry.
    pub attempt: i32,
    /// The receiver's HTTP status; null when no response came back.
    pub status_code: Option<i32>,
    /// Why the attempt failed; null when it succeeded.
    pub error: Option<String>,
    pub at: DateTime<Utc>,
}

impl From<db::webhooks::Attempt> for Delivery {
    fn from(row: db::webhooks::Attempt) -> Self {
        Self {
            event_id: row.event_id,
            event: row.event,
            attempt: row.attempt,
            status_code: row.status_code,
            error: row.error,
            at: row.at,
        }
    }
}

/// The body of every delivery. Retries send the same `id`; receivers dedupe by it.
#[derive(Debug, Serialize)]
pub struct Envelope<'a> {
    pub id: WebhookEventId,
    pub event: &'a str,
    pub created_at: DateTime<Utc>,
    pub data: &'a serde_json::Value,
}
