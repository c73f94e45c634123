//! Prometheus metrics, kept by hand: a few counters and histograms do not justify a
//! metrics framework in the dependency tree. Rendered as text by `GET /metrics`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// A histogram with fixed upper bounds; observations are counted cumulatively on render.
pub struct Histogram {
    bounds: &'static [f64],
    counts: Vec<AtomicU64>,
    count: AtomicU64,
    /// Sum of observations in millionths, to keep it an atomic integer.
    sum_micros: AtomicU64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, value: f64) {
        if let Some(i) = self.bounds.iter().position(|bound| value <= *bound) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add((value * 1e6) as u64, Ordering::Relaxed);
    }

    pub fn observe_duration(&self, duration: Duration) {
        self.observe(duration.as_secs_f64());
    }

    /// Number of observations above `threshold` (an upper bound of a bucket).
    pub fn count_above(&self, threshold: f64) -> u64 {
        let at_or_below: u64 = self
            .bounds
            .iter()
            .zip(&self.counts)
            .filter(|(bound, _)| **bound <= threshold)
            .map(|(_, count)| count.load(Ordering::Relaxed))
            .sum();
        self.count.load(Ordering::Relaxed) - at_or_below
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            cumulative += count.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {cumulative}"
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {sum}");
        let _ = writeln!(out, "{name}_count{braces} {count}");
    }
}

const LATENCY_BOUNDS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];
const BATCH_BOUNDS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
];

/// Every metric the server exports.
pub struct Metrics {
    http_requests: Mutex<BTreeMap<(String, u16), u64>>,
    pub http_latency: Histogram,
    /// Requests per committed transaction: above 1 means group commit is merging.
    pub batch_requests: Histogram,
    pub batch_messages: Histogram,
    pub commit_latency: Histogram,
    pub commit_failures: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            http_requests: Mutex::new(BTreeMap::new()),
            http_latency: Histogram::new(LATENCY_BOUNDS),
            batch_requests: Histogram::new(BATCH_BOUNDS),
            batch_messages: Histogram::new(BATCH_BOUNDS),
            commit_latency: Histogram::new(LATENCY_BOUNDS),
            commit_failures: AtomicU64::new(0),
        }
    }
}

/// Gauges read at render time from their owners.
pub struct PoolState {
    pub connections: u32,
    pub idle: u32,
    pub max: u32,
}

impl Metrics {
    pub fn record_http(&self, route: &str, status: u16, elapsed: Duration) {
        let mut requests = self.http_requests.lock().expect("metrics lock poisoned");
        *requests.entry((route.to_owned(), status)).or_insert(0) += 1;
        drop(requests);
        self.http_latency.observe_duration(elapsed);
    }

    pub fn render(&self, pool: PoolState) -> String {
        let mut out = String::new();
        out.push_str("# HELP switchboard_http_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE switchboard_http_requests_total counter\n");
        for ((route, status), count) in self
            .http_requests
            .lock()
            .expect("metrics lock poisoned")
            .iter()
        {
            let route = route.replace('\\', "\\\\").replace('"', "\\\"");
            let _ = writeln!(
                out,
                "switchboard_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {count}"
            );
        }
        let histograms: [(&str, &str, &Histogram); 4] = [
            (
                "switchboard_http_request_duration_seconds",
                "HTTP request latency.",
                &self.http_latency,
            ),
            (
                "switchboard_db_batch_requests",
                "Write requests merged into one transaction.",
                &self.batch_requests,
            ),
            (
                "switchboard_db_batch_messages",
                "Messages inserted by one transaction.",
                &self.batch_messages,
            ),
            (
                "switchboard_db_commit_duration_seconds",
                "Latency of a group commit.",
                &self.commit_latency,
            ),
        ];
        for (name, help, histogram) in histograms {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
            histogram.render(&mut out, name, "");
        }
        let gauges = [
            (
                "switchboard_db_pool_connections",
                "Open database connections.",
                pool.connections as u64,
            ),
            (
                "switchboard_db_pool_idle_connections",
                "Idle database connections.",
                pool.idle as u64,
            ),
            (
                "switchboard_db_pool_max_connections",
                "Pool size limit.",
                pool.max as u64,
            ),
        ];
        for (name, help, value) in gauges {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        }
        let failures = self.commit_failures.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "# HELP switchboard_db_commit_failures_total Transactions that failed.\n\
             # TYPE switchboard_db_commit_failures_total counter\n\
             switchboard_db_commit_failures_total {failures}"
        );
        out
    }
}
