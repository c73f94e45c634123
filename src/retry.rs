//! How an outbox retries a delivery that failed (webhook events, mail): the wait doubles
//! from a first delay up to a longest one, and retrying stops once a deadline after the
//! thing was written has passed.

use std::time::Duration;

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub first: Duration,
    pub longest: Duration,
    /// How long after it was written something is retried.
    pub retry_for: Duration,
}

impl Backoff {
    /// When to try again after `attempts` failed attempts at something written at
    /// `written_at`; `None` once that would be past retrying.
    pub fn next(
        &self,
        written_at: DateTime<Utc>,
        attempts: i32,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let exponent = u32::try_from(attempts.saturating_sub(1))
            .unwrap_or(0)
            .min(20);
        let delay = self
            .first
            .saturating_mul(2u32.saturating_pow(exponent))
            .min(self.longest);
        let next = now + chrono::Duration::from_std(delay).ok()?;
        let give_up_at = written_at + chrono::Duration::from_std(self.retry_for).ok()?;
        (next <= give_up_at).then_some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BACKOFF: Backoff = Backoff {
        first: Duration::from_secs(1),
        longest: Duration::from_secs(60),
        retry_for: Duration::from_secs(3600),
    };

    fn delay(attempts: i32) -> Option<i64> {
        let now = Utc::now();
        BACKOFF
            .next(now, attempts, now)
            .map(|at| (at - now).num_seconds())
    }

    #[test]
    fn the_wait_doubles_up_to_the_longest() {
        assert_eq!(delay(0), Some(1));
        assert_eq!(delay(1), Some(1));
        assert_eq!(delay(2), Some(2));
        assert_eq!(delay(6), Some(32));
        assert_eq!(delay(7), Some(60));
        assert_eq!(delay(i32::MAX), Some(60));
    }

    #[test]
    fn retrying_stops_past_the_deadline() {
        let now = Utc::now();
        let written_at = now - chrono::Duration::seconds(3590);
        assert_eq!(
            BACKOFF.next(written_at, 1, now),
            Some(now + chrono::Duration::seconds(1))
        );
        assert_eq!(BACKOFF.next(written_at, 5, now), None);
    }
}
