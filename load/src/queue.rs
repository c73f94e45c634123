//! A long queue: visitors start chats at a steady rate while nobody is online, then one
//! specialist with room for a single chat takes them one after another. Measures how
//! fast a new chat hears its position and how fast the next offer follows a freed slot.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use crate::setup::{self, Target};
use crate::stats::{Latency, Report};
use crate::ws::Client;
use crate::Result;

const CONNECTING: usize = 256;

pub struct QueueOptions {
    pub waiting: usize,
    pub start_rate: f64,
    pub cycles: usize,
}

pub async fn run(
    target: &Target,
    options: QueueOptions,
    server_pid: Option<u32>,
) -> Result<Report> {
    let server = target.server;
    let visitors = options.waiting;
    eprintln!("signing up {visitors} visitors");
    let tokens = setup::visitors(server, visitors).await?;

    let (go_tx, go) = watch::channel(None::<Instant>);
    let connected = Arc::new(AtomicUsize::new(0));
    let queued = Arc::new(AtomicUsize::new(0));
    let entry = Arc::new(Latency::default());
    let connecting = Arc::new(Semaphore::new(CONNECTING));
    let mut tasks = JoinSet::new();
    for (index, token) in tokens.into_iter().enumerate() {
        let (connected, queued, entry) = (connected.clone(), queued.clone(), entry.clone());
        let (connecting, mut go) = (connecting.clone(), go.clone());
        let offset = Duration::from_secs_f64(index as f64 / options.start_rate);
        tasks.spawn(async move {
            let permit = connecting.acquire_owned().await?;
            let (mut ws, _) = Client::connect(server, &token, index).await?;
            drop(permit);
            connected.fetch_add(1, Ordering::Relaxed);
            let start = ws
                .idle_until(async {
                    go.wait_for(Option::is_some)
                        .await
                        .map(|start| start.expect("set"))
                })
                .await??;
            ws.idle_until(tokio::time::sleep_until((start + offset).into()))
                .await?;
            let starting = Instant::now();
            ws.send_text(r#"{"type":"session.start","ref":"start"}"#.to_owned())
                .await?;
            ws.recv_type("queue.update", Duration::from_secs(60))
                .await?;
            entry.record(starting.elapsed());
            queued.fetch_add(1, Ordering::Relaxed);
            // Position updates keep coming; reading them is what a widget does.
            while ws.next_text().await?.is_some() {}
            Ok::<_, crate::Error>(())
        });
    }
    while connected.load(Ordering::Relaxed) < visitors {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Some(Ok(Err(error))) =
            futures_util::FutureExt::now_or_never(tasks.join_next()).flatten()
        {
            return Err(error);
        }
    }
    eprintln!(
        "{visitors} connected; starting chats at {}/s",
        options.start_rate
    );
    go_tx.send(Some(Instant::now()))?;
    while queued.load(Ordering::Relaxed) < visitors {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Some(Ok(Err(error))) =
            futures_util::FutureExt::now_or_never(tasks.join_next()).flatten()
        {
            return Err(error);
        }
    }
    eprintln!(
        "{visitors} waiting; one specialist takes {} chats",
        options.cycles
    );

    let token = setup::specialists(target, 1, 1).await?.remove(0);
    let (mut console, _) = Client::connect(server, &token, visitors).await?;
    let online = Instant::now();
    console
        .send(&json!({"type": "status.set", "status": "online", "ref": "online"}))
        .await?;
    let mut offer = console.recv_type("offer", Duration::from_secs(10)).await?;
    let first_offer = online.elapsed();

    let after_free = Latency::default();
    for cycle in 0..options.cycles {
        let session = offer["session"]["id"]
            .as_str()
            .ok_or("offer without session")?
            .to_owned();
        let accept = json!({"type": "offer.accept", "offer_id": offer["offer_id"]});
        console.request(accept, &format!("accept-{cycle}")).await?;
        // Each cycle is two requests; stay under the server's per-connection rate limit.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let end =
            json!({"type": "session.end", "ref": format!("end-{cycle}"), "session_id": session});
        console.send(&end).await?;
        let (next, latency) = next_offer_after_end(&mut console, &format!("end-{cycle}")).await?;
        after_free.record(latency);
        offer = next;
    }

    let mut report = Report::new("queue");
    report.server_memory(server_pid);
    report.set("waiting", visitors);
    report.set("start_rate", options.start_rate);
    report.set("session_start_to_queue_update", entry.summary());
    report.set("first_offer_ms", first_offer.as_secs_f64() * 1000.0);
    report.set("offer_after_slot_freed", after_free.summary());
    tasks.abort_all();
    Ok(report)
}

/// Reads until the end is confirmed and the next offer has arrived; the latency runs
/// from the confirmation (the slot is free once the end is committed) to the offer.
async fn next_offer_after_end(console: &mut Client, reference: &str) -> Result<(Value, Duration)> {
    let (mut freed, mut offer) = (None::<Instant>, None::<(Value, Instant)>);
    loop {
        if let (Some(freed), Some((offer, at))) = (freed, offer.as_ref()) {
            return Ok((offer.clone(), at.saturating_duration_since(freed)));
        }
        let frame = console.recv_value(Duration::from_secs(10)).await?;
        match frame["type"].as_str().unwrap_or_default() {
            "session.ended" if frame["ref"] == reference => freed = Some(Instant::now()),
            "offer" => offer = Some((frame, Instant::now())),
            "error" => return Err(format!("{reference}: {frame}").into()),
            _ => {}
        }
    }
}
