//! Rate limits per key (a client address, a caller), for requests that would otherwise
//! let one client create rows, files or work as fast as it can send them. Governor's
//! GCRA allows a burst of the whole per-minute quota, then one request per share of the
//! minute; a refusal says when the next request would pass.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use bytes::Bytes;
use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter as Gcra};

use crate::cluster::Cluster;
use crate::counted::{Counted, SUBJECT};
use crate::error::{Error, Result};

/// Keys kept before the ones idle long enough to be full again are dropped.
const PRUNE_ABOVE: usize = 100_000;

pub struct RateLimiter<K: Hash + Eq + Clone> {
    limiter: Gcra<K, DefaultKeyedStateStore<K>, DefaultClock>,
    clock: DefaultClock,
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    /// `per_minute` requests a minute per key (at least one).
    pub fn per_minute(per_minute: u32) -> Self {
        let quota = Quota::per_minute(NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN));
        Self {
            limiter: Gcra::keyed(quota),
            clock: DefaultClock::default(),
        }
    }

    /// Counts one request of `key`; `rate_limited` (with `Retry-After`) when it is over
    /// its quota. `what` names the requests in the refusal.
    pub fn check(&self, key: &K, what: &str) -> Result<()> {
        if self.limiter.len() > PRUNE_ABOVE {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            Error::rate_limited_for(format!("too many {what}, slow down"), wait)
        })
    }

    /// Counts a request of `key` another node admitted.
    pub fn count(&self, key: &K) {
        let _ = self.limiter.check_key(key);
    }
}

/// The request rates the HTTP API limits.
/// Each is counted across the cluster (see `counted`), but availability checks.
pub struct Limiters {
    /// `POST /visitors` per client address.
    signups: RateLimiter<IpAddr>,
    /// `GET /availability` per client address, counted by each node alone: telling the
    /// others of every check would cost more than the check.
    availability: RateLimiter<IpAddr>,
    /// `POST /sessions/{id}/messages` per caller.
    messages: RateLimiter<uuid::Uuid>,
    /// Uploads per caller.
    uploads: RateLimiter<uuid::Uuid>,
    cluster: Arc<Cluster>,
}

impl Limiters {
    pub fn new(config: &crate::config::Config, cluster: Arc<Cluster>) -> Limiters {
        Limiters {
            signups: RateLimiter::per_minute(config.visitor_signups_per_minute),
            availability: RateLimiter::per_minute(config.availability_per_minute),
            messages: RateLimiter::per_minute(config.limits.http_messages_per_minute),
            uploads: RateLimiter::per_minute(config.limits.uploads_per_minute),
            cluster,
        }
    }

    /// A new visitor from client address `address` (as [`client_key`] gives it).
    pub fn signup(&self, address: IpAddr) -> Result<()> {
        self.signups
            .check(&address, "new visitors from this address")?;
        self.tell(&Counted::Signup(address));
        Ok(())
    }

    /// An availability check from client address `address` (as [`client_key`] gives it).
    pub fn availability(&self, address: IpAddr) -> Result<()> {
        self.availability
            .check(&address, "availability checks from this address")
    }

    pub fn http_message(&self, caller: uuid::Uuid) -> Result<()> {
        self.messages.check(&caller, "messages")?;
        self.tell(&Counted::HttpMessage(caller));
        Ok(())
    }

    pub fn upload(&self, caller: uuid::Uuid) -> Result<()> {
        self.uploads.check(&caller, "uploads")?;
        self.tell(&Counted::Upload(caller));
        Ok(())
    }

    /// Counts what another node admitted.
    pub fn count(&self, counted: &Counted) {
        match counted {
            Counted::Signup(address) => self.signups.count(address),
            Counted::HttpMessage(caller) => self.messages.count(caller),
            Counted::Upload(caller) => self.uploads.count(caller),
            Counted::LoginFailed { .. } | Counted::LoginSucceeded { .. } => {}
        }
    }

    fn tell(&self, counted: &Counted) {
        if self.cluster.is_clustered() {
            let payload = serde_json::to_vec(counted).expect("a count serializes");
            self.cluster.publish(SUBJECT.into(), Bytes::from(payload));
        }
    }
}

/// A client address as limits count it: an IPv4 address, or an IPv6 address's /64 (one
/// subscriber's network; a single host may use any address in it).
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let network = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(network.into())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn a_key_over_its_limit_is_refused_with_a_wait_and_others_are_not() {
        let limiter = RateLimiter::per_minute(2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(limiter.check(&a, "requests").is_ok());
        assert!(limiter.check(&a, "requests").is_ok());
        let refused = limiter.check(&a, "requests").unwrap_err();
        assert_eq!(refused.code, ErrorCode::RateLimited);
        let wait = refused.retry_after.expect("a Retry-After");
        assert!((1..=30).contains(&wait), "{wait}");
        assert!(limiter.check(&b, "requests").is_ok());
    }

    #[test]
    fn requests_another_node_admitted_count_against_the_key() {
        let limiter = RateLimiter::per_minute(3);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        limiter.count(&a);
        limiter.count(&a);
        assert!(limiter.check(&a, "requests").is_ok());
        assert!(limiter.check(&a, "requests").is_err());
    }

    #[test]
    fn ipv6_addresses_of_one_network_share_a_key() {
        let one = client_key("2001:db8:1:2:aaaa::1".parse().unwrap());
        let other = client_key("2001:db8:1:2:ffff:ffff:ffff:ffff".parse().unwrap());
        let elsewhere = client_key("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(one, other);
        assert_ne!(one, elsewhere);
        assert_eq!(one, "2001:db8:1:2::".parse::<IpAddr>().unwrap());
        let mapped = client_key("::ffff:192.0.2.7".parse().unwrap());
        assert_eq!(mapped, "192.0.2.7".parse::<IpAddr>().unwrap());
    }
}
