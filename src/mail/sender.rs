//! The sender: takes due mail from the outbox and hands it to the SMTP server. It runs on
//! a thread of its own, so nothing it does (DNS, TLS, a mail server that answers slowly
//! or not at all) shares a thread with the chat.
//!
//! Every second it claims what is due, a few mails at a time, and sends them side by
//! side, each within [`ATTEMPT_TIMEOUT`]. A failure is recorded on the mail and retried
//! with exponential backoff until a day after the mail was written; a mail whose address
//! no message can be built for is given up at once. Everything else is retried, also
//! answers that look permanent: those often come from the server's own configuration
//! (credentials, relaying), which an admin can put right within the day. Without
//! `SWITCHBOARD_SMTP_URL` nothing is sent, and each due mail records why. At start-up
//! and every hour, the text of mail settled a week ago is emptied.
//!
//! In a cluster only the leading node sends (see `cluster`), as for webhooks; a claim
//! holds a mail for [`CLAIM`], so a hand-over between leaders does not send it twice.

use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::Arbiter;
use chrono::{DateTime, Utc};
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::message::{self, Letter, Undeliverable};
use super::settings::SmtpUrl;
use crate::cluster::Cluster;
use crate::db::mail::{Outcome, Outgoing};
use crate::db::{self, Db};
use crate::error::Result;
use crate::retry::Backoff;

/// How often the outbox is checked.
const POLL: Duration = Duration::from_secs(1);
/// Mails claimed, and sent side by side, at a time.
const BATCH: i64 = 10;
/// Longest one mail may take to hand over.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a claimed mail is not due again: longer than an attempt can take.
const CLAIM: Duration = Duration::from_secs(60);
/// A failed mail is tried again after 1 s, doubling to 5 min, for a day after it was
/// written.
const RETRY: Backoff = Backoff {
    first: Duration::from_secs(1),
    longest: Duration::from_secs(5 * 60),
    retry_for: Duration::from_secs(24 * 60 * 60),
};
/// How long the text of a settled mail is kept, and how often older text is emptied.
const KEEP_TEXT_FOR: Duration = Duration::from_secs(7 * 24 * 60 * 60);
const FORGET_EVERY: Duration = Duration::from_secs(60 * 60);
/// Longest error kept on a mail, in characters.
const MAX_ERROR_CHARS: usize = 500;

const NOT_CONFIGURED: &str = "SMTP is not configured: set SWITCHBOARD_SMTP_URL";

struct Sender {
    db: Db,
    cluster: Arc<Cluster>,
    from: Mailbox,
    /// None when no SMTP server is configured.
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
}

/// Why an attempt failed.
enum Failure {
    NotConfigured,
    /// Worth trying again later.
    Transient(String),
    /// No later attempt can succeed.
    Permanent(String),
}

/// Starts the sender on a thread of its own; it stops with the returned arbiter.
pub fn start(db: Db, cluster: Arc<Cluster>, smtp: Option<SmtpUrl>, from: Mailbox) -> Arbiter {
    match &smtp {
        Some(url) => log::info!("mail to visitors goes through {url:?}"),
        None => log::info!("SWITCHBOARD_SMTP_URL is not set: mail to visitors stays unsent"),
    }
    let arbiter = Arbiter::new();
    arbiter.spawn_fn(move || {
        let sender = Sender {
            db,
            cluster,
            from,
            transport: smtp.map(|url| url.transport(ATTEMPT_TIMEOUT)),
        };
        actix_web::rt::spawn(run(Rc::new(sender)));
    });
    arbiter
}

async fn run(sender: Rc<Sender>) {
    let mut forgotten_at: Option<Instant> = None;
    loop {
        if sender.cluster.leads() && forgotten_at.is_none_or(|at| at.elapsed() >= FORGET_EVERY) {
            forgotten_at = Some(Instant::now());
            let forgotten = sender
                .db
                .run(|conn| Ok(db::mail::forget_settled_text(conn, KEEP_TEXT_FOR)?))
                .await;
            if let Err(error) = forgotten {
                log::warn!("mail: old text not emptied: {}", error.message);
            }
        }
        while sender.cluster.leads() {
            match send_due(&sender).await {
                Ok(claimed) if claimed == BATCH as usize => continue,
                Ok(_) => break,
                Err(error) => {
                    log::warn!("mail: outbox not read: {}", error.message);
                    break;
                }
            }
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Claims one batch and sends it; returns how many mails it held.
async fn send_due(sender: &Sender) -> Result<usize> {
    let claimed = sender
        .db
        .run(|conn| Ok(db::mail::claim_due(conn, BATCH, CLAIM)?))
        .await?;
    let count = claimed.len();
    futures_util::future::join_all(claimed.into_iter().map(|mail| attempt(sender, mail))).await;
    Ok(count)
}

/// Makes one attempt and records it.
async fn attempt(sender: &Sender, mail: Outgoing) {
    let outcome = match send(sender, &mail).await {
        Ok(()) => {
            log::info!("mail {} of session {} sent", mail.id, mail.session_id);
            Outcome::Sent
        }
        Err(Failure::NotConfigured) => {
            log::debug!(
                "mail {} of session {} not sent: {NOT_CONFIGURED}",
                mail.id,
                mail.session_id
            );
            retry_after(
                mail.created_at,
                mail.attempts + 1,
                Utc::now(),
                NOT_CONFIGURED.to_owned(),
            )
        }
        Err(Failure::Transient(error)) => {
            log::warn!(
                "mail {} of session {} not sent: {error}",
                mail.id,
                mail.session_id
            );
            retry_after(mail.created_at, mail.attempts + 1, Utc::now(), error)
        }
        Err(Failure::Permanent(error)) => {
            log::warn!(
                "mail {} of session {} given up: {error}",
                mail.id,
                mail.session_id
            );
            Outcome::GaveUp(error)
        }
    };
    let id = mail.id;
    let recorded = sender
        .db
        .run(move |conn| Ok(db::mail::settle(conn, id, &outcome)?))
        .await;
    if let Err(error) = recorded {
        // The claim runs out and the mail is due again: at least once, not at most.
        log::warn!("mail {id}: attempt not recorded: {}", error.message);
    }
}

async fn send(sender: &Sender, mail: &Outgoing) -> Result<(), Failure> {
    let transport = sender.transport.as_ref().ok_or(Failure::NotConfigured)?;
    let letter = Letter {
        id: mail.id,
        to_address: &mail.to_address,
        to_name: mail.to_name.as_deref(),
        subject: &mail.subject,
        body: &mail.body,
    };
    let message = message::build(&sender.from, &letter)
        .map_err(|Undeliverable(error)| Failure::Permanent(error))?;
    match tokio::time::timeout(ATTEMPT_TIMEOUT, transport.send(message)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(Failure::Transient(shortened(error.to_string()))),
        Err(_) => Err(Failure::Transient(format!(
            "the mail server did not take the mail within {} s",
            ATTEMPT_TIMEOUT.as_secs()
        ))),
    }
}

fn shortened(error: String) -> String {
    if error.chars().count() <= MAX_ERROR_CHARS {
        return error;
    }
    error.chars().take(MAX_ERROR_CHARS).collect()
}

/// When to try again after the `attempts`-th failure: 1 s, 2 s, 4 s, … at most five
/// minutes apart, and not at all once that would be more than a day after the mail was
/// written.
fn retry_after(
    written_at: DateTime<Utc>,
    attempts: i32,
    now: DateTime<Utc>,
    error: String,
) -> Outcome {
    match RETRY.next(written_at, attempts, now) {
        Some(next) => Outcome::RetryAt(next, error),
        None => Outcome::GaveUp(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delay(attempts: i32) -> i64 {
        let now = Utc::now();
        match retry_after(now, attempts, now, String::new()) {
            Outcome::RetryAt(at, _) => (at - now).num_seconds(),
            other => panic!("retried within the first day, not {other:?}"),
        }
    }

    #[test]
    fn retries_back_off_exponentially_up_to_five_minutes() {
        assert_eq!(delay(1), 1);
        assert_eq!(delay(2), 2);
        assert_eq!(delay(5), 16);
        assert_eq!(delay(9), 256);
        assert_eq!(delay(10), 300);
        assert_eq!(delay(1000), 300);
    }

    #[test]
    fn retries_stop_a_day_after_the_mail_was_written() {
        let written_at = Utc::now() - chrono::Duration::hours(24);
        assert_eq!(
            retry_after(written_at, 3, Utc::now(), "refused".into()),
            Outcome::GaveUp("refused".into())
        );
    }

    #[test]
    fn long_errors_are_shortened() {
        assert_eq!(shortened("x".repeat(2000)).len(), MAX_ERROR_CHARS);
        assert_eq!(shortened("refused".into()), "refused");
    }
}
