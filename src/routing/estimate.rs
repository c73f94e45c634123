//! Expected wait. The model: specialists clear chats at a rate of (fitting capacity /
//! average handle time); a session at position p waits about p / rate seconds, but never
//! less than the usual time from queueing to an accepted offer. Both averages are
//! exponentially weighted moving averages over recent sessions (weight 0.2 for the
//! newest), seeded from the last hour of history at start-up and with defaults before
//! any history exists.

/// Handle time assumed before any chat has ended: five minutes.
const DEFAULT_HANDLE_SECS: f64 = 300.0;
/// Time to an accepted offer assumed before any chat was assigned.
const DEFAULT_PICKUP_SECS: f64 = 15.0;
const WEIGHT: f64 = 0.2;

#[derive(Debug, Clone)]
pub struct WaitEstimator {
    handle_secs: f64,
    pickup_secs: f64,
}

impl Default for WaitEstimator {
    fn default() -> Self {
        Self {
            handle_secs: DEFAULT_HANDLE_SECS,
            pickup_secs: DEFAULT_PICKUP_SECS,
        }
    }
}

impl WaitEstimator {
    pub fn seeded(handle_secs: Option<f64>, pickup_secs: Option<f64>) -> Self {
        Self {
            handle_secs: handle_secs
                .filter(|s| *s > 0.0)
                .unwrap_or(DEFAULT_HANDLE_SECS),
            pickup_secs: pickup_secs
                .filter(|s| *s >= 0.0)
                .unwrap_or(DEFAULT_PICKUP_SECS),
        }
    }

    /// A chat ended after being handled for `secs`.
    pub fn record_handle(&mut self, secs: f64) {
        self.handle_secs += WEIGHT * (secs.max(1.0) - self.handle_secs);
    }

    /// A chat was assigned after waiting `secs`.
    pub fn record_wait(&mut self, secs: f64) {
        self.pickup_secs += WEIGHT * (secs.max(0.0) - self.pickup_secs);
    }

    /// Seconds until the session at `position` (1 = next) is likely taken, given the
    /// total chat capacity of the online specialists who fit it and how many of those
    /// slots are free now. `None` when nobody who fits is online.
    pub fn estimate(
        &self,
        position: usize,
        fitting_capacity: usize,
        free_slots: usize,
    ) -> Option<u64> {
        if fitting_capacity == 0 {
            return None;
        }
        if position <= free_slots {
            return Some(self.pickup_secs.round() as u64);
        }
        let waiting_for_a_slot = (position - free_slots) as f64;
        let per_slot = self.handle_secs / fitting_capacity as f64;
        Some((self.pickup_secs + waiting_for_a_slot * per_slot).round() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nobody_fitting_online_means_no_estimate() {
        assert_eq!(WaitEstimator::default().estimate(1, 0, 0), None);
    }

    #[test]
    fn waits_grow_with_position_and_shrink_with_capacity() {
        let estimator = WaitEstimator::seeded(Some(600.0), Some(10.0));
        assert_eq!(estimator.estimate(1, 3, 1), Some(10));
        let third_of_one = estimator.estimate(3, 1, 0).unwrap();
        let third_of_three = estimator.estimate(3, 3, 0).unwrap();
        assert!(third_of_one > third_of_three);
        assert!(estimator.estimate(4, 3, 0).unwrap() > estimator.estimate(2, 3, 0).unwrap());
    }

    #[test]
    fn averages_follow_recent_history() {
        let mut estimator = WaitEstimator::seeded(Some(600.0), Some(10.0));
        for _ in 0..30 {
            estimator.record_handle(60.0);
        }
        assert!((estimator.handle_secs - 60.0).abs() < 1.0);
    }
}
