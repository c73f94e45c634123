//! Search over a large history: `GET /api/v1/conversations?q=` as an admin, over a mix of
//! queries like the ones people type into a search box (a common word, an ordinary
//! word, a rare one, two words, a visitor's e-mail, a session number). The history is
//! seeded by `scripts/bench.sh` straight into the database and indexed by the server's
//! own indexer before this runs; the vocabulary file is the one the seed drew from.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::task::JoinSet;

use crate::http::HttpClient;
use crate::setup::{self, Target};
use crate::stats::{Latency, Report};
use crate::Result;

pub struct SearchOptions {
    /// The word list the seed drew message bodies from, most common first.
    pub words: PathBuf,
    /// Seeded conversations: visitor e-mails and session numbers go up to this.
    pub sessions: usize,
    /// Seeded messages, for the report.
    pub messages: u64,
    pub queries: usize,
    pub warmup: usize,
    pub concurrency: usize,
    /// How long the server's indexer took to index the seed, for the report.
    pub index_secs: Option<f64>,
}

/// The kinds of query in the mix, with their share in percent.
const MIX: [(&str, u64); 6] = [
    ("common word", 25),
    ("word", 30),
    ("rare word", 20),
    ("two words", 10),
    ("visitor e-mail", 10),
    ("session number", 5),
];

/// How many of the most frequent words count as common, and where rare ones start.
const COMMON: usize = 10;
const RARE_FROM: usize = 60;

pub async fn run(
    target: &Target,
    options: SearchOptions,
    server_pid: Option<u32>,
) -> Result<Report> {
    let words: Vec<String> = std::fs::read_to_string(&options.words)?
        .lines()
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    if words.len() <= RARE_FROM {
        return Err(format!("{}: fewer than {RARE_FROM} words", options.words.display()).into());
    }
    let admin = setup::admin_token(target).await?;
    let words = Arc::new(words);
    let total = options.warmup + options.queries;
    let next = Arc::new(AtomicUsize::new(0));
    let overall = Arc::new(Latency::default());
    let by_kind: Arc<BTreeMap<&'static str, Latency>> = Arc::new(
        MIX.iter()
            .map(|(kind, _)| (*kind, Latency::default()))
            .collect(),
    );
    let empty = Arc::new(AtomicUsize::new(0));

    eprintln!(
        "searching: {} warm-up and {} measured queries, {} at a time",
        options.warmup, options.queries, options.concurrency
    );
    let started = Instant::now();
    let mut clients = JoinSet::new();
    for _ in 0..options.concurrency.max(1) {
        let (next, overall, by_kind, empty) = (
            next.clone(),
            overall.clone(),
            by_kind.clone(),
            empty.clone(),
        );
        let (words, admin, server) = (words.clone(), admin.clone(), target.server);
        let (warmup, sessions) = (options.warmup, options.sessions);
        clients.spawn(async move {
            let mut http = HttpClient::new(server);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return Ok::<_, crate::Error>(());
                }
                let (kind, q) = query(i as u64, &words, sessions);
                let path = format!("/api/v1/conversations?limit=20&q={}", encode(&q));
                let sent = Instant::now();
                let reply = http.expect(200, "GET", &path, Some(&admin), None).await?;
                let elapsed = sent.elapsed();
                if i < warmup {
                    continue;
                }
                overall.record(elapsed);
                by_kind[kind].record(elapsed);
                if reply["sessions"].as_array().is_none_or(Vec::is_empty) {
                    empty.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
    while let Some(done) = clients.join_next().await {
        done??;
    }
    let elapsed = started.elapsed();

    let mut report = Report::new("search");
    report.set("messages", options.messages);
    report.set("sessions", options.sessions);
    report.set("queries", options.queries);
    report.set("concurrency", options.concurrency);
    report.set("latency", overall.summary());
    let kinds: serde_json::Map<String, Value> = by_kind
        .iter()
        .map(|(kind, latency)| ((*kind).to_owned(), latency.summary()))
        .collect();
    report.set("by_kind", Value::Object(kinds));
    report.set("empty_results", empty.load(Ordering::Relaxed));
    report.set(
        "queries_per_sec",
        json!((total as f64 / elapsed.max(Duration::from_millis(1)).as_secs_f64()).round()),
    );
    if let Some(secs) = options.index_secs {
        report.set("index_secs", secs);
    }
    report.server_memory(server_pid);
    Ok(report)
}

/// The `i`-th query of the mix: its kind and its text. Deterministic, so runs compare.
fn query(i: u64, words: &[String], sessions: usize) -> (&'static str, String) {
    let mut random = Random(i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut pick = random.below(100);
    let kind = MIX
        .iter()
        .find(|(_, share)| {
            let hit = pick < *share;
            pick = pick.saturating_sub(*share);
            hit
        })
        .map_or(MIX[0].0, |(kind, _)| kind);
    let word = |random: &mut Random, from: usize, to: usize| {
        words[from + random.below((to - from) as u64) as usize].clone()
    };
    let sessions = sessions.max(1) as u64;
    let text = match kind {
        "common word" => word(&mut random, 0, COMMON),
        "word" => word(&mut random, COMMON, RARE_FROM),
        "rare word" => word(&mut random, RARE_FROM, words.len()),
        "two words" => format!(
            "{} {}",
            word(&mut random, 0, RARE_FROM),
            word(&mut random, 0, RARE_FROM)
        ),
        "visitor e-mail" => format!("visitor{}@example.com", 1 + random.below(sessions)),
        _ => format!("CHAT-{:08}", 1 + random.below(sessions)),
    };
    (kind, text)
}

/// xorshift64: enough to spread queries, no dependency for it.
struct Random(u64);

impl Random {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
