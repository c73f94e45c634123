//! Guarding the login endpoint (SPEC section 12, "Login cannot starve the chat").
//!
//! Two things keep password guessing from hurting anyone else. [`LoginThrottle`] counts
//! failed logins per account and per client address and refuses further attempts once
//! either has too many within the window, before any hashing or database work; a success
//! clears the account's count but not the address's, so one known password does not
//! unlock guessing at others from the same place. [`LoginGuard`] shares that counter
//! between the HTTP workers and rations the expensive part: at most a few attempts at a
//! time look up their account and verify a password, on a blocking thread, holding a
//! database connection only for the lookup.
//!
//! In a cluster each node tells the others of every outcome, so the counts are the
//! cluster's (see `counted`).
//!
//! The counter is a plain struct driven by the caller's clock, so its rules are tested
//! without a runtime. Its memory is bounded: each key keeps at most `limit` times, and
//! the number of keys is capped (expired ones are dropped first, then the ones whose
//! last failure is oldest).

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::password;
use crate::cluster::Cluster;
use crate::config::Limits;
use crate::counted::{Counted, SUBJECT};
use crate::error::{Error, Result};

/// Failure times remembered per map at most, whatever the limit: a million `Instant`s
/// is 16 MiB, and gives 100,000 accounts or addresses at the default limit of 10.
const REMEMBERED_FAILURES: usize = 1_000_000;

/// An account as the throttle knows it: a digest of its lower-cased e-mail, so a long
/// e-mail in a request costs no more memory than a short one.
pub type AccountKey = [u8; 32];

fn account_key(email: &str) -> AccountKey {
    Sha256::digest(email.trim().to_lowercase().as_bytes()).into()
}

/// Failure times kept per key: the limit, at least one.
fn per_key(limit: u32) -> usize {
    usize::try_from(limit).unwrap_or(usize::MAX).max(1)
}

/// Failed logins counted per account and per client address over a sliding window.
pub struct LoginThrottle {
    limit: usize,
    window: Duration,
    accounts: FailureLog<AccountKey>,
    addresses: FailureLog<IpAddr>,
}

impl LoginThrottle {
    /// `limit` failures (at least one) within `window` refuse further attempts.
    pub fn new(limit: u32, window: Duration) -> Self {
        Self::with_capacity(limit, window, REMEMBERED_FAILURES / per_key(limit))
    }

    /// As [`LoginThrottle::new`], remembering at most `keys` accounts and `keys`
    /// addresses.
    pub fn with_capacity(limit: u32, window: Duration, keys: usize) -> Self {
        Self {
            limit: per_key(limit),
            window,
            accounts: FailureLog::new(keys.max(1)),
            addresses: FailureLog::new(keys.max(1)),
        }
    }

    /// Whether an attempt at `account` (an e-mail, any case) from `address` (a client
    /// address as `http::rate_limit::client_key` gives it) may go ahead; if not, how
    /// long until the oldest failure that blocks it leaves the window.
    pub fn check(&mut self, account: &str, address: IpAddr, now: Instant) -> Result<(), Duration> {
        let account = self
            .accounts
            .wait(&account_key(account), self.limit, self.window, now);
        let address = self.addresses.wait(&address, self.limit, self.window, now);
        match account.max(address) {
            Some(wait) => Err(wait),
            None => Ok(()),
        }
    }

    /// Counts a failed attempt against both the account and the address.
    pub fn failed(&mut self, account: &str, address: IpAddr, now: Instant) {
        self.failed_at(account_key(account), address, now);
    }

    /// As [`LoginThrottle::failed`], for the account with this digest.
    pub fn failed_at(&mut self, account: AccountKey, address: IpAddr, now: Instant) {
        self.accounts.record(account, self.limit, self.window, now);
        self.addresses.record(address, self.limit, self.window, now);
    }

    /// Clears the account's failures; the address keeps its count.
    pub fn succeeded(&mut self, account: &str) {
        self.succeeded_at(&account_key(account));
    }

    /// As [`LoginThrottle::succeeded`], for the account with this digest.
    pub fn succeeded_at(&mut self, account: &AccountKey) {
        self.accounts.forget(account);
    }

    /// Accounts and addresses currently remembered.
    pub fn remembered(&self) -> (usize, usize) {
        (self.accounts.recent.len(), self.addresses.recent.len())
    }
}

/// The recent failure times of each key, oldest first, never more than the limit per key
/// (older ones no longer change an answer) and never more than `capacity` keys.
struct FailureLog<K> {
    capacity: usize,
    recent: HashMap<K, VecDeque<Instant>>,
}

impl<K: Hash + Eq + Clone> FailureLog<K> {
    fn new(capacity: usize) -> Self {
        Self {
            capacity,
            recent: HashMap::new(),
        }
    }

    /// How long `key` must wait, when it has `limit` failures within the window.
    fn wait(&mut self, key: &K, limit: usize, window: Duration, now: Instant) -> Option<Duration> {
        let times = self.recent.get_mut(key)?;
        drop_expired(times, window, now);
        if times.is_empty() {
            self.recent.remove(key);
            return None;
        }
        if times.len() < limit {
            return None;
        }
        let oldest = *times.front()?;
        Some((oldest + window).saturating_duration_since(now))
    }

    fn record(&mut self, key: K, limit: usize, window: Duration, now: Instant) {
        if !self.recent.contains_key(&key) && self.recent.len() >= self.capacity {
            self.make_room(window, now);
        }
        let times = self.recent.entry(key).or_default();
        drop_expired(times, window, now);
        times.push_back(now);
        while times.len() > limit {
            times.pop_front();
        }
    }

    fn forget(&mut self, key: &K) {
        self.recent.remove(key);
    }

    /// Drops the keys whose failures have all expired; when every key is still live,
    /// drops the one whose last failure is oldest, which is the closest to expiring.
    fn make_room(&mut self, window: Duration, now: Instant) {
        self.recent.retain(|_, times| {
            times
                .back()
                .is_some_and(|last| now.duration_since(*last) < window)
        });
        if self.recent.len() < self.capacity {
            return;
        }
        let stalest = self
            .recent
            .iter()
            .min_by_key(|(_, times)| times.back().copied())
            .map(|(key, _)| key.clone());
        if let Some(stalest) = stalest {
            self.recent.remove(&stalest);
        }
    }
}

fn drop_expired(times: &mut VecDeque<Instant>, window: Duration, now: Instant) {
    while times
        .front()
        .is_some_and(|first| now.duration_since(*first) >= window)
    {
        times.pop_front();
    }
}

/// What every login shares: the failure counter and the turns to verify a password.
pub struct LoginGuard {
    throttle: Mutex<LoginThrottle>,
    turns: Arc<Semaphore>,
    cluster: Arc<Cluster>,
}

impl LoginGuard {
    pub fn new(limits: &Limits, cluster: Arc<Cluster>) -> Self {
        Self {
            throttle: Mutex::new(LoginThrottle::new(
                limits.login_failures,
                Duration::from_secs(limits.login_window_secs),
            )),
            turns: Arc::new(Semaphore::new(limits.password_hashes.max(1))),
            cluster,
        }
    }

    /// Counts a login outcome another node saw.
    pub fn count(&self, counted: &Counted) {
        match counted {
            Counted::LoginFailed { account, address } => {
                self.throttle()
                    .failed_at(*account, *address, Instant::now())
            }
            Counted::LoginSucceeded { account } => self.throttle().succeeded_at(account),
            Counted::Signup(_) | Counted::HttpMessage(_) | Counted::Upload(_) => {}
        }
    }

    fn tell(&self, counted: &Counted) {
        if self.cluster.is_clustered() {
            let payload = serde_json::to_vec(counted).expect("a count serializes");
            self.cluster.publish(SUBJECT.into(), Bytes::from(payload));
        }
    }

    /// Admits a login attempt at `account` from `address` (a client address as
    /// `http::rate_limit::client_key` gives it): refused at once with `rate_limited`
    /// when either has too many recent failures; otherwise waits for a turn and checks
    /// again, since the attempts ahead of it in the queue may have failed meanwhile.
    pub async fn admit(self: &Arc<Self>, account: &str, address: IpAddr) -> Result<LoginAttempt> {
        self.check(account, address)?;
        let turn = self.turn().await;
        self.check(account, address)?;
        Ok(LoginAttempt {
            guard: self.clone(),
            account: account.to_owned(),
            address,
            _turn: turn,
        })
    }

    /// A place among the hashes running at once, held until dropped.
    async fn turn(&self) -> tokio::sync::OwnedSemaphorePermit {
        self.turns
            .clone()
            .acquire_owned()
            .await
            .expect("the login semaphore is never closed")
    }

    /// Hashes a new password (an account created or changed) in a turn of its own, so
    /// those hashes count against the same bound as logins.
    pub async fn hash(&self, password: String) -> Result<String> {
        let turn = self.turn().await;
        actix_web::web::block(move || {
            let hash = password::hash_password(&password);
            drop(turn);
            hash
        })
        .await
        .map_err(Error::internal)?
    }

    fn check(&self, account: &str, address: IpAddr) -> Result<()> {
        self.throttle()
            .check(account, address, Instant::now())
            .map_err(|wait| {
                Error::rate_limited_for("too many failed logins, try again later", wait)
            })
    }

    fn throttle(&self) -> MutexGuard<'_, LoginThrottle> {
        // The counter stays consistent whatever panicked while holding it.
        self.throttle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One admitted login attempt, holding its turn until its password is verified.
pub struct LoginAttempt {
    guard: Arc<LoginGuard>,
    account: String,
    address: IpAddr,
    _turn: OwnedSemaphorePermit,
}

impl LoginAttempt {
    /// Whether `password` matches the `stored` hash; with no stored hash (an unknown
    /// e-mail, a disabled account) it takes as long and answers false. Runs on a
    /// blocking thread, so neither an HTTP worker nor a database connection waits for it.
    ///
    /// The outcome is recorded, and the turn given back, on that thread: a client that
    /// hangs up mid-way still has its failure counted, and cannot start more hashes than
    /// there are turns.
    pub async fn verify(self, password: String, stored: Option<String>) -> Result<bool> {
        actix_web::web::block(move || {
            let matches = password::verify_or_pretend(&password, stored.as_deref());
            let account = account_key(&self.account);
            let counted = if matches {
                self.guard.throttle().succeeded_at(&account);
                Counted::LoginSucceeded { account }
            } else {
                let now = Instant::now();
                self.guard.throttle().failed_at(account, self.address, now);
                Counted::LoginFailed {
                    account,
                    address: self.address,
                }
            };
            self.guard.tell(&counted);
            matches
        })
        .await
        .map_err(Error::internal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    fn address(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn an_account_is_refused_at_the_limit_until_its_oldest_failure_expires() {
        let mut throttle = LoginThrottle::new(2, MINUTE);
        let start = Instant::now();
        throttle.failed("sam@example.com", address("10.0.0.1"), start);
        assert_eq!(
            throttle.check("sam@example.com", address("10.0.0.2"), start),
            Ok(())
        );
        let second = start + Duration::from_secs(10);
        throttle.failed("sam@example.com", address("10.0.0.2"), second);

        let later = start + Duration::from_secs(20);
        assert_eq!(
            throttle.check("sam@example.com", address("10.0.0.3"), later),
            Err(Duration::from_secs(40))
        );
        assert_eq!(
            throttle.check("ann@example.com", address("10.0.0.3"), later),
            Ok(())
        );
        assert_eq!(
            throttle.check("sam@example.com", address("10.0.0.3"), start + MINUTE),
            Ok(())
        );

        throttle.failed("sam@example.com", address("10.0.0.3"), start + MINUTE);
        assert_eq!(
            throttle.check("sam@example.com", address("10.0.0.4"), start + MINUTE),
            Err(Duration::from_secs(10)),
            "the failure at 10 s is now the oldest in the window"
        );
    }

    #[test]
    fn an_account_is_counted_whatever_the_case_of_its_email() {
        let mut throttle = LoginThrottle::new(2, MINUTE);
        let now = Instant::now();
        throttle.failed("Sam@Example.com", address("10.0.0.1"), now);
        throttle.failed(" sam@example.COM", address("10.0.0.2"), now);
        assert!(throttle
            .check("sam@example.com", address("10.0.0.3"), now)
            .is_err());
    }

    #[test]
    fn failures_at_many_accounts_from_one_address_block_that_address_only() {
        let mut throttle = LoginThrottle::new(3, MINUTE);
        let now = Instant::now();
        for account in ["a@example.com", "b@example.com", "c@example.com"] {
            throttle.failed(account, address("10.0.0.1"), now);
        }
        assert_eq!(
            throttle.check("d@example.com", address("10.0.0.1"), now),
            Err(MINUTE)
        );
        assert_eq!(
            throttle.check("a@example.com", address("10.0.0.2"), now),
            Ok(())
        );
    }

    #[test]
    fn a_success_clears_the_accounts_failures_but_not_the_addresss() {
        let mut throttle = LoginThrottle::new(2, MINUTE);
        let now = Instant::now();
        throttle.failed("sam@example.com", address("10.0.0.1"), now);
        throttle.failed("sam@example.com", address("10.0.0.1"), now);
        throttle.succeeded("SAM@example.com");
        assert_eq!(
            throttle.check("sam@example.com", address("10.0.0.2"), now),
            Ok(())
        );
        assert_eq!(
            throttle.check("sam@example.com", address("10.0.0.1"), now),
            Err(MINUTE)
        );
    }

    #[test]
    fn expired_failures_make_room_for_new_ones() {
        let mut throttle = LoginThrottle::with_capacity(5, MINUTE, 3);
        let start = Instant::now();
        for i in 0..3 {
            throttle.failed(
                &format!("{i}@example.com"),
                address(&format!("10.0.0.{i}")),
                start,
            );
        }
        let later = start + MINUTE;
        throttle.failed("new@example.com", address("10.0.1.1"), later);
        assert_eq!(throttle.remembered(), (1, 1));
    }

    #[test]
    fn memory_stays_bounded_when_every_failure_is_recent() {
        let mut throttle = LoginThrottle::with_capacity(2, MINUTE, 3);
        let start = Instant::now();
        for i in 0..1000u32 {
            let now = start + Duration::from_millis(u64::from(i));
            let ip = IpAddr::from(i.to_be_bytes());
            throttle.failed(&format!("{i}@example.com"), ip, now);
            throttle.failed(&format!("{i}@example.com"), ip, now);
            throttle.failed(&format!("{i}@example.com"), ip, now);
        }
        assert_eq!(throttle.remembered(), (3, 3));
        let now = start + Duration::from_millis(999);
        assert!(
            throttle
                .check("999@example.com", address("0.0.3.231"), now)
                .is_err(),
            "the newest failures are the ones kept"
        );
    }
}
