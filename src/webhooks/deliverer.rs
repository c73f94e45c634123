//! The deliverer: after commit, turns outbox events into one delivery per subscribed
//! webhook and POSTs them. It runs on a thread of its own, so nothing it does (DNS,
//! slow receivers, retries) shares a thread with the chat.
//!
//! A supervisor loop wakes when a commit wrote to the outbox and at least once a
//! second, so events committed just before a crash are picked up after the restart and
//! retries fall due without anyone waking it. Each webhook with due deliveries gets a
//! worker task of its own that delivers them one at a time, oldest first: a receiver
//! that hangs holds up its own queue (each request times out), never the other
//! webhooks. Every attempt is recorded; failures are retried with exponential backoff
//! until 24 hours after the event. At start-up and every hour, events older than
//! [`KEEP_FOR`] that are settled are deleted with their history.
//!
//! In a cluster only the leading node delivers (see `cluster`): the outbox is shared,
//! and two deliverers would post each event twice.

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::Arbiter;
use actix_web::http::header::CONTENT_TYPE;
use chrono::{DateTime, Utc};
use tokio::task::JoinHandle;

use super::address::WebhookUrl;
use super::{signature, Webhooks};
use crate::cluster::Cluster;
use crate::db::webhooks::{Due, Outcome, Webhook};
use crate::db::{self, Db};
use crate::domain::WebhookId;
use crate::error::Result;
use crate::protocol::webhooks::Envelope;
use crate::retry::Backoff;

/// How often the outbox and the retry schedule are checked without a wake-up.
const POLL: Duration = Duration::from_secs(1);
/// Outbox events fanned out per query.
const FAN_OUT_BATCH: i64 = 1000;
/// Due deliveries a worker loads at a time.
const WORKER_BATCH: i64 = 100;
/// Longest a receiver may take to answer one delivery.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// A failed delivery is tried again after 1 s, doubling to an hour, for a day after the
/// event.
const RETRY: Backoff = Backoff {
    first: Duration::from_secs(1),
    longest: Duration::from_secs(60 * 60),
    retry_for: Duration::from_secs(24 * 60 * 60),
};
/// How long settled events and their delivery history are kept; longer than the retries,
/// so only settled events can be this old.
const KEEP_FOR: Duration = Duration::from_secs(7 * 24 * 60 * 60);
const PRUNE_EVERY: Duration = Duration::from_secs(60 * 60);
/// Events deleted per statement.
const PRUNE_BATCH: i64 = 10_000;

/// What the supervisor and its workers share; lives on the deliverer's thread.
struct Shared {
    db: Db,
    cluster: Arc<Cluster>,
    webhooks: Arc<Webhooks>,
    allow_private: bool,
    client: awc::Client,
}

/// Starts the deliverer on a thread of its own; it stops with the returned arbiter.
pub fn start(
    db: Db,
    cluster: Arc<Cluster>,
    webhooks: Arc<Webhooks>,
    allow_private: bool,
    tls: Arc<rustls::ClientConfig>,
) -> Arbiter {
    let arbiter = Arbiter::new();
    arbiter.spawn_fn(move || {
        let client = awc::Client::builder()
            .connector(awc::Connector::new().rustls_0_23(tls))
            .timeout(ATTEMPT_TIMEOUT)
            // A redirect could lead to an address the URL check never saw.
            .disable_redirects()
            .finish();
        let shared = Rc::new(Shared {
            db,
            cluster,
            webhooks,
            allow_private,
            client,
        });
        actix_web::rt::spawn(supervise(shared));
    });
    arbiter
}

async fn supervise(shared: Rc<Shared>) {
    let mut workers: HashMap<WebhookId, JoinHandle<()>> = HashMap::new();
    let mut pruned_at: Option<Instant> = None;
    loop {
        if !shared.cluster.leads() {
            tokio::time::sleep(POLL).await;
            continue;
        }
        if pruned_at.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
            pruned_at = Some(Instant::now());
            if let Err(error) = prune(&shared.db).await {
                log::warn!("webhooks: old events not pruned: {}", error.message);
            }
        }
        if let Err(error) = fan_out(&shared.db).await {
            log::warn!("webhooks: outbox not fanned out: {}", error.message);
        }
        workers.retain(|_, worker| !worker.is_finished());
        match shared
            .db
            .run(|conn| Ok(db::webhooks::with_due_deliveries(conn)?))
            .await
        {
            Ok(due) => {
                for webhook in due {
                    workers.entry(webhook).or_insert_with(|| {
                        actix_web::rt::spawn(deliver_due(shared.clone(), webhook))
                    });
                }
            }
            Err(error) => log::warn!("webhooks: due deliveries not read: {}", error.message),
        }
        tokio::select! {
            () = shared.webhooks.woken() => {}
            () = tokio::time::sleep(POLL) => {}
        }
    }
}

async fn fan_out(db: &Db) -> Result<()> {
    in_batches(db, FAN_OUT_BATCH, db::webhooks::fan_out).await
}

async fn prune(db: &Db) -> Result<()> {
    let before = Utc::now() - chrono::Duration::from_std(KEEP_FOR).expect("a week");
    in_batches(db, PRUNE_BATCH, move |conn, batch| {
        db::webhooks::prune(conn, before, batch)
    })
    .await
}

/// Repeats `step` (which handles at most `batch` rows, each in its own statement) until
/// a step handles fewer: one long statement would hold its locks for the whole backlog.
async fn in_batches<F>(db: &Db, batch: i64, step: F) -> Result<()>
where
    F: Fn(&mut diesel::PgConnection, i64) -> diesel::QueryResult<usize> + Copy + Send + 'static,
{
    loop {
        let handled = db.run(move |conn| Ok(step(conn, batch)?)).await?;
        if (handled as i64) < batch {
            return Ok(());
        }
    }
}

/// One webhook's worker: delivers what is due until nothing is.
async fn deliver_due(shared: Rc<Shared>, id: WebhookId) {
    loop {
        let loaded = shared
            .db
            .run(move |conn| {
                let Some(webhook) = db::webhooks::find(conn, id)? else {
                    return Ok(None);
                };
                let due = db::webhooks::due(conn, id, WORKER_BATCH)?;
                Ok(Some((webhook, due)))
            })
            .await;
        let (webhook, due) = match loaded {
            Ok(Some((webhook, due))) if !due.is_empty() => (webhook, due),
            Ok(_) => return,
            Err(error) => {
                log::warn!("webhook {id}: deliveries not read: {}", error.message);
                return;
            }
        };
        for due in due {
            attempt(&shared, &webhook, due).await;
        }
    }
}

/// Makes one attempt and records it.
async fn attempt(shared: &Shared, webhook: &Webhook, due: Due) {
    let body = serde_json::to_vec(&Envelope {
        id: due.event_id,
        event: &due.event,
        created_at: due.created_at,
        data: &due.data,
    })
    .expect("a JSON value serializes");
    let (status_code, error) = match post(shared, webhook, body).await {
        Ok(status) if (200..300).contains(&status) => (Some(status), None),
        Ok(status) => (
            Some(status),
            Some(format!("the receiver answered {status}")),
        ),
        Err(error) => (None, Some(error)),
    };
    let outcome = if error.is_none() {
        Outcome::Delivered
    } else {
        retry_after(due.created_at, due.attempts + 1, Utc::now())
    };
    if let Some(error) = &error {
        log::debug!(
            "webhook {}: event {} failed: {error}",
            webhook.id,
            due.event_id
        );
    }
    let webhook_id = webhook.id;
    let recorded = shared
        .db
        .run(move |conn| {
            Ok(db::webhooks::record_attempt(
                conn,
                webhook_id,
                &due,
                status_code.map(i32::from),
                error.as_deref(),
                outcome,
            )?)
        })
        .await;
    if let Err(error) = recorded {
        // The delivery stays due and is attempted again: at least once, not at most.
        log::warn!(
            "webhook {webhook_id}: attempt not recorded: {}",
            error.message
        );
    }
}

/// POSTs the body, signed, to the address the URL resolves to now; the status or why
/// there was none.
async fn post(shared: &Shared, webhook: &Webhook, body: Vec<u8>) -> Result<u16, String> {
    let url = WebhookUrl::parse(&webhook.url).map_err(|e| e.message)?;
    let address = url
        .resolve(shared.allow_private)
        .await
        .map_err(|e| e.message)?;
    let response = shared
        .client
        .post(url.uri.clone())
        .address(address)
        .insert_header((CONTENT_TYPE, "application/json"))
        .insert_header((signature::HEADER, signature::sign(&webhook.secret, &body)))
        .send_body(body)
        .await
        .map_err(|e| e.to_string())?;
    Ok(response.status().as_u16())
}

/// When to try again after the `attempts`-th failure: 1 s, 2 s, 4 s, … at most an hour
/// apart, and not at all once that would be more than 24 hours after the event.
fn retry_after(event_at: DateTime<Utc>, attempts: i32, now: DateTime<Utc>) -> Outcome {
    match RETRY.next(event_at, attempts, now) {
        Some(next) => Outcome::RetryAt(next),
        None => Outcome::GaveUp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delay(attempts: i32) -> i64 {
        let now = Utc::now();
        match retry_after(now, attempts, now) {
            Outcome::RetryAt(at) => (at - now).num_seconds(),
            _ => panic!("retried within the first day"),
        }
    }

    #[test]
    fn retries_back_off_exponentially_up_to_an_hour() {
        assert_eq!(delay(1), 1);
        assert_eq!(delay(2), 2);
        assert_eq!(delay(5), 16);
        assert_eq!(delay(13), 3600);
        assert_eq!(delay(40), 3600);
    }

    #[test]
    fn retries_stop_a_day_after_the_event() {
        let event_at = Utc::now() - chrono::Duration::hours(24);
        assert!(matches!(
            retry_after(event_at, 3, Utc::now()),
            Outcome::GaveUp
        ));
    }
}
