//! A fixed-window counter per key (a client IP), for unauthenticated endpoints that
//! would otherwise let anyone create rows as fast as they can send requests.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use dashmap::DashMap;

pub struct RateLimiter {
    per_window: u32,
    window: Duration,
    windows: DashMap<IpAddr, (Instant, u32)>,
}

impl RateLimiter {
    pub fn new(per_window: u32, window: Duration) -> Self {
        Self {
            per_window,
            window,
            windows: DashMap::new(),
        }
    }

    /// Counts one request from `key`; false when the key is over its limit.
    pub fn allow(&self, key: IpAddr) -> bool {
        let now = Instant::now();
        if self.windows.len() > 100_000 {
            self.windows
                .retain(|_, (start, _)| now.duration_since(*start) < self.window);
        }
        let mut entry = self.windows.entry(key).or_insert((now, 0));
        let (start, count) = entry.value_mut();
        if now.duration_since(*start) >= self.window {
            *start = now;
            *count = 0;
        }
        *count += 1;
        *count <= self.per_window
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_over_its_limit_is_refused_and_others_are_not() {
        let limiter = RateLimiter::new(2, Duration::from_secs(60));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(limiter.allow(a));
        assert!(limiter.allow(a));
        assert!(!limiter.allow(a));
        assert!(limiter.allow(b));
    }
}
