//! Many visitors with the widget open and nothing to say: what does each cost the server?

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::setup;
use crate::stats::{memory_mib, Latency, Report};
use crate::ws::Client;
use crate::Result;

const CONNECTING: usize = 256;

#[derive(Default)]
struct Counts {
    connected: AtomicUsize,
    failed: AtomicUsize,
    closed: AtomicUsize,
}

pub async fn run(
    server: SocketAddr,
    visitors: usize,
    first_client: usize,
    hold: Duration,
    server_pid: Option<u32>,
) -> Result<Report> {
    let before = server_pid.and_then(memory_mib).map(|(rss, _)| rss);
    eprintln!("signing up {visitors} visitors");
    let tokens = setup::visitors(server, visitors).await?;

    eprintln!("connecting {visitors} WebSockets");
    let counts = Arc::new(Counts::default());
    let connect = Arc::new(Latency::default());
    let connecting = Arc::new(Semaphore::new(CONNECTING));
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for (index, token) in tokens.into_iter().enumerate() {
        let (counts, connect, connecting) = (counts.clone(), connect.clone(), connecting.clone());
        tasks.spawn(async move {
            let permit = connecting.acquire_owned().await.expect("never closed");
            let begun = Instant::now();
            let mut ws = match Client::connect(server, &token, first_client + index).await {
                Ok((ws, _)) => ws,
                Err(error) => {
                    if counts.failed.fetch_add(1, Ordering::Relaxed) < 5 {
                        eprintln!("connect {index}: {error}");
                    }
                    return;
                }
            };
            connect.record(begun.elapsed());
            counts.connected.fetch_add(1, Ordering::Relaxed);
            drop(permit);
            // Reading answers the server's heartbeat pings.
            while let Ok(Some(_)) = ws.next_text().await {}
            counts.closed.fetch_add(1, Ordering::Relaxed);
        });
    }
    let mut last_note = Instant::now();
    while counts.connected.load(Ordering::Relaxed) + counts.failed.load(Ordering::Relaxed)
        < visitors
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if last_note.elapsed() > Duration::from_secs(5) {
            last_note = Instant::now();
            eprintln!("connected {}", counts.connected.load(Ordering::Relaxed));
        }
    }
    let connect_secs = started.elapsed().as_secs_f64();
    eprintln!(
        "all connected in {connect_secs:.1}s; holding for {}s",
        hold.as_secs()
    );
    // Longer than the server's heartbeat interval, so every connection proves alive.
    tokio::time::sleep(hold).await;

    let connected = counts.connected.load(Ordering::Relaxed);
    let mut report = Report::new("idle");
    report.server_memory(server_pid);
    if let (Some(before), Some((after, _))) = (before, server_pid.and_then(memory_mib)) {
        report.set("server_rss_before_mib", before);
        let per = (after - before) * 1024.0 / connected.max(1) as f64;
        report.set("server_kib_per_connection", (per * 10.0).round() / 10.0);
    }
    report.set("visitors", visitors);
    report.set("connected", connected);
    report.set("failed", counts.failed.load(Ordering::Relaxed));
    report.set(
        "still_open",
        connected - counts.closed.load(Ordering::Relaxed),
    );
    report.set("connect_all_secs", (connect_secs * 10.0).round() / 10.0);
    report.set("connect", connect.summary());
    tasks.abort_all();
    Ok(report)
}
