//! Webhooks (SPEC section 10): admins subscribe a URL to events; every event is written
//! to an outbox table in the same transaction as the change it reports (`outbox`), and a
//! deliverer POSTs it, signed, to each subscribed URL after the commit (`deliverer`).
//!
//! The chat path pays for webhooks only when someone listens: [`Subscriptions`] is an
//! in-memory summary of which events any webhook wants, consulted (one atomic load)
//! before anything is written to the outbox.

pub mod address;
pub mod deliverer;
pub mod outbox;
pub mod signature;
pub mod tls;

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

/// What a webhook can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum WebhookEvent {
    #[serde(rename = "session.created")]
    SessionCreated,
    #[serde(rename = "session.assigned")]
    SessionAssigned,
    #[serde(rename = "session.transferred")]
    SessionTransferred,
    #[serde(rename = "session.ended")]
    SessionEnded,
    #[serde(rename = "session.abandoned")]
    SessionAbandoned,
    #[serde(rename = "session.rated")]
    SessionRated,
    #[serde(rename = "message.created")]
    MessageCreated,
    /// A waiting visitor left a message instead (SPEC section 14); a session created
    /// offline is reported by `session.created`.
    #[serde(rename = "session.offline")]
    SessionOffline,
}

impl WebhookEvent {
    pub const ALL: [WebhookEvent; 8] = [
        WebhookEvent::SessionCreated,
        WebhookEvent::SessionAssigned,
        WebhookEvent::SessionTransferred,
        WebhookEvent::SessionEnded,
        WebhookEvent::SessionAbandoned,
        WebhookEvent::SessionRated,
        WebhookEvent::MessageCreated,
        WebhookEvent::SessionOffline,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WebhookEvent::SessionCreated => "session.created",
            WebhookEvent::SessionAssigned => "session.assigned",
            WebhookEvent::SessionTransferred => "session.transferred",
            WebhookEvent::SessionEnded => "session.ended",
            WebhookEvent::SessionAbandoned => "session.abandoned",
            WebhookEvent::SessionRated => "session.rated",
            WebhookEvent::MessageCreated => "message.created",
            WebhookEvent::SessionOffline => "session.offline",
        }
    }

    pub fn parse(text: &str) -> Option<WebhookEvent> {
        Self::ALL.into_iter().find(|event| event.as_str() == text)
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// Which events at least one webhook subscribes to. Refreshed from the database when a
/// webhook is created or deleted, and at start-up.
#[derive(Default)]
pub struct Subscriptions {
    events: AtomicU8,
}

impl Subscriptions {
    pub fn wants(&self, event: WebhookEvent) -> bool {
        self.events.load(Ordering::Acquire) & event.bit() != 0
    }

    /// Reads every webhook's events from the database into the summary.
    pub fn reload(&self, conn: &mut diesel::PgConnection) -> diesel::QueryResult<()> {
        let subscribed = crate::db::webhooks::subscribed_events(conn)?;
        self.set(subscribed.iter().map(Vec::as_slice));
        Ok(())
    }

    /// Replaces the summary with the union of every webhook's events.
    pub fn set<'a>(&self, subscribed: impl IntoIterator<Item = &'a [String]>) {
        let bits = subscribed
            .into_iter()
            .flatten()
            .filter_map(|name| WebhookEvent::parse(name))
            .fold(0, |bits, event| bits | event.bit());
        self.events.store(bits, Ordering::Release);
    }
}

/// What the chat path, the HTTP handlers and the deliverer share.
#[derive(Default)]
pub struct Webhooks {
    pub subscriptions: Subscriptions,
    /// Set by outbox writes, taken after their transaction commits: the deliverer is
    /// woken once the rows are visible rather than when they were merely written.
    written: AtomicBool,
    wake: Notify,
}

impl Webhooks {
    pub(crate) fn mark_written(&self) {
        self.written.store(true, Ordering::Release);
    }

    /// Called after a commit: wakes the deliverer if the transaction wrote to the outbox.
    pub fn committed(&self) {
        if self.written.swap(false, Ordering::AcqRel) {
            self.wake.notify_one();
        }
    }

    pub(crate) async fn woken(&self) {
        self.wake.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_holds_the_union_of_every_webhooks_events() {
        let subscriptions = Subscriptions::default();
        assert!(!subscriptions.wants(WebhookEvent::MessageCreated));
        let first = vec!["session.created".to_owned()];
        let second = vec!["message.created".to_owned(), "session.ended".to_owned()];
        subscriptions.set([first.as_slice(), second.as_slice()]);
        assert!(subscriptions.wants(WebhookEvent::MessageCreated));
        assert!(subscriptions.wants(WebhookEvent::SessionCreated));
        assert!(!subscriptions.wants(WebhookEvent::SessionRated));
        subscriptions.set([first.as_slice()]);
        assert!(!subscriptions.wants(WebhookEvent::MessageCreated));
    }

    #[test]
    fn event_names_round_trip() {
        for event in WebhookEvent::ALL {
            assert_eq!(WebhookEvent::parse(event.as_str()), Some(event));
            let json = serde_json::to_string(&event).expect("serializes");
            assert_eq!(json, format!("\"{}\"", event.as_str()));
        }
    }
}
