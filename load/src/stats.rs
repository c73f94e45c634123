//! Latency histograms, counters and the report each scenario prints.

use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::{json, Map, Value};

/// A latency histogram shared by many connection tasks. Recording takes a lock, which
/// costs far less than the frame that produced the sample.
pub struct Latency(Mutex<Histogram<u64>>);

impl Default for Latency {
    fn default() -> Self {
        // Microseconds from 1 µs to 10 minutes, three significant digits.
        Self(Mutex::new(
            Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid bounds"),
        ))
    }
}

impl Latency {
    pub fn record(&self, elapsed: Duration) {
        let micros = (elapsed.as_micros() as u64).clamp(1, 600_000_000);
        self.0.lock().expect("not poisoned").record(micros).ok();
    }

    /// `{count, p50_ms, p99_ms, max_ms}`.
    pub fn summary(&self) -> Value {
        let histogram = self.0.lock().expect("not poisoned");
        let ms = |micros: u64| (micros as f64 / 10.0).round() / 100.0;
        json!({
            "count": histogram.len(),
            "p50_ms": ms(histogram.value_at_quantile(0.50)),
            "p99_ms": ms(histogram.value_at_quantile(0.99)),
            "max_ms": ms(histogram.max()),
        })
    }
}

/// Resident and peak memory of a process, in MiB, from /proc.
pub fn memory_mib(pid: u32) -> Option<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|line| line.starts_with(name))?
            .split_whitespace()
            .nth(1)?
            .parse::<f64>()
            .ok()
            .map(|kib| (kib / 1024.0 * 10.0).round() / 10.0)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// CPU time a process has used so far (user and system), in seconds, from /proc.
pub fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; the fields after it are plain numbers.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // utime and stime are the 14th and 15th fields, the 12th and 13th after the name.
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let per_sec = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (per_sec > 0).then(|| ticks / per_sec as f64)
}

/// A scenario's results: printed for people, appended as one JSON line for scripts.
pub struct Report {
    fields: Map<String, Value>,
}

impl Report {
    pub fn new(scenario: &str) -> Self {
        let mut fields = Map::new();
        fields.insert("scenario".into(), scenario.into());
        Self { fields }
    }

    pub fn set(&mut self, key: &str, value: impl Into<Value>) {
        self.fields.insert(key.into(), value.into());
    }

    pub fn server_memory(&mut self, pid: Option<u32>) {
        if let Some((rss, peak)) = pid.and_then(memory_mib) {
            self.set("server_rss_mib", rss);
            self.set("server_peak_rss_mib", peak);
        }
    }

    pub fn finish(self, json_out: Option<&std::path::Path>) -> crate::Result<()> {
        let value = Value::Object(self.fields);
        println!("{}", serde_json::to_string_pretty(&value)?);
        if let Some(path) = json_out {
            use std::io::Write;
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?;
            writeln!(file, "{value}")?;
        }
        Ok(())
    }
}
