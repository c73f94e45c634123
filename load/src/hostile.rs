//! Honest chat under attack (SPEC sections 9 and 12): conversations sending at a fixed
//! rate, as in the `chat` scenario, while three hostile loads run from this process for
//! the whole measured window, all of them within the server's default limits:
//!
//! - **a login flood**: many concurrent `POST /api/v1/auth/login` with wrong passwords,
//!   for a few existing and unknown e-mails, all from 127.0.0.1 (401 until the failures
//!   are throttled, 429 after);
//! - **sockets that never read**: visitors, each with a long conversation, open a
//!   WebSocket (upgrade written by hand), start their session and keep asking for it
//!   with `session.resume` (about a MiB each) and `ping`, without ever reading, so the
//!   kernel buffers and then the server's outbox fill; when the server drops one, the
//!   visitor connects again;
//! - **invalid frames**: visitors on otherwise normal connections send a steady stream of
//!   broken frames (not JSON, unknown types, NUL in `client_msg_id` and `body`,
//!   oversized `ref`, wrong types, missing fields) and read the errors.
//!
//! The server's memory is read from /proc before the hostile load starts, every 500 ms
//! while it runs (the peak is reported), and a while after it stops.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio::time::{interval, Interval, MissedTickBehavior};

use crate::chat::{Chat, ChatOptions};
use crate::http::HttpClient;
use crate::raw::{RawSocket, SendOutcome, Upgrade};
use crate::setup::{self, Target};
use crate::stats::{cpu_secs, memory_mib, Latency, Report};
use crate::ws::Client;
use crate::Result;

/// A skill no specialist has: the hostile visitors' sessions wait in the queue and are
/// never offered to the honest consoles.
const UNSTAFFED: &str = "unstaffed";
/// Connections a stuck visitor fills its conversation over, each under the server's
/// per-connection frame rate.
const FILL_CONNECTIONS: usize = 4;
/// Frames per second each filling connection sends (the server's default limit is 20).
const FILL_RATE: f64 = 16.0;
/// Characters of each message of a stuck visitor's conversation (the limit is 4,000).
const FILL_CHARS: usize = 3_900;
/// A write that takes longer means the server stopped reading the socket too.
const WRITE_STALL: Duration = Duration::from_secs(5);
const SAMPLE_EVERY: Duration = Duration::from_millis(500);
/// How long a stuck socket is finally read for when the hostile load stops, to see
/// whether the server had told it to go.
const DRAIN_WITHIN: Duration = Duration::from_secs(3);

#[derive(Clone, Debug)]
pub struct HostileOptions {
    pub chat: ChatOptions,
    /// Hostile load before the measured window starts.
    pub ramp: Duration,
    /// How long after the hostile load stops the server's memory is read again.
    pub after: Duration,
    pub login_concurrency: usize,
    /// Login attempts per second over all connections; 0 sends flat out.
    pub login_rate: f64,
    /// Existing accounts the flood guesses at (as many unknown e-mails join them).
    pub login_accounts: usize,
    pub stuck_visitors: usize,
    /// Messages in each stuck visitor's conversation.
    pub stuck_messages: usize,
    pub stuck_resumes_per_sec: f64,
    pub stuck_pings_per_sec: f64,
    pub invalid_connections: usize,
    /// Invalid frames per second over all those connections.
    pub invalid_rate: f64,
}

#[derive(Default)]
struct Logins {
    sent: AtomicU64,
    unauthorized: AtomicU64,
    throttled: AtomicU64,
    other: AtomicU64,
    failed: AtomicU64,
    latency: Latency,
}

#[derive(Default)]
struct Stuck {
    opened: AtomicU64,
    refused: AtomicU64,
    connect_failed: AtomicU64,
    dropped: AtomicU64,
    stalled: AtomicU64,
    open_at_stop: AtomicU64,
    /// Of those: a close frame found when finally read, its codes, and the connection
    /// closed after what was queued.
    close_frame_when_read: AtomicU64,
    close_codes: std::sync::Mutex<std::collections::BTreeMap<u16, u64>>,
    closed_when_read: AtomicU64,
    /// Either: the server had given up on the socket.
    gone_when_read: AtomicU64,
    /// Bytes read from one socket when finally read.
    max_queued: AtomicU64,
    frames: AtomicU64,
    resumes: AtomicU64,
    max_unread: AtomicUsize,
    /// From the upgrade to the server dropping the socket.
    lifetime: Latency,
}

#[derive(Default)]
struct Invalid {
    sent: AtomicU64,
    answered: AtomicU64,
    answered_with_ref: AtomicU64,
    rate_limited: AtomicU64,
    unexpected: AtomicU64,
    closed: AtomicU64,
    reconnect_failed: AtomicU64,
    latency: Latency,
}

pub async fn run(
    target: &Target,
    options: HostileOptions,
    server_pid: Option<u32>,
) -> Result<Report> {
    let server = target.server;
    let chat = Chat::prepare(target, options.chat.clone()).await?;
    let mut next_client = chat.clients();

    // Everything the hostile clients need is made before the flood: once it runs, no
    // login from this address passes.
    eprintln!(
        "preparing the hostile clients: {} login targets, {} stuck visitors with {} messages each, {} invalid-frame visitors",
        options.login_accounts, options.stuck_visitors, options.stuck_messages, options.invalid_connections
    );
    let emails = login_targets(target, options.login_accounts).await?;
    let stuck = visitors_with_session(server, options.stuck_visitors, next_client).await?;
    next_client += options.stuck_visitors;
    fill(server, &stuck, options.stuck_messages, next_client).await?;
    next_client += options.stuck_visitors * FILL_CONNECTIONS;
    let invalid = visitors_with_session(server, options.invalid_connections, next_client).await?;
    next_client += options.invalid_connections;
    if let Some(pid) = server_pid {
        settle(pid).await;
    }

    chat.start_sending()?;
    let cpu_warmup = server_pid.and_then(cpu_secs);
    tokio::time::sleep(options.chat.warmup).await;
    let cpu_honest = server_pid.and_then(cpu_secs);
    let rss_before = server_pid.and_then(memory_mib).map(|(rss, _)| rss);

    eprintln!("starting the hostile load");
    let (stop_tx, stop) = watch::channel(false);
    let hostile_started = Instant::now();
    let sampler = tokio::spawn(sample_memory(server_pid, stop.clone()));
    let mut tasks = JoinSet::new();
    let logins = Arc::new(Logins::default());
    let per_login_worker = (options.login_rate > 0.0)
        .then(|| options.login_rate / options.login_concurrency.max(1) as f64);
    let emails = Arc::new(emails);
    for worker in 0..options.login_concurrency {
        tasks.spawn(login_flood(
            server,
            emails.clone(),
            worker,
            per_login_worker,
            logins.clone(),
            stop.clone(),
        ));
    }
    let stuck_counts = Arc::new(Stuck::default());
    for (seed, (token, session)) in stuck.into_iter().enumerate() {
        tasks.spawn(never_read(
            server,
            token,
            session,
            seed as u32,
            options.clone(),
            stuck_counts.clone(),
            stop.clone(),
        ));
    }
    let invalid_counts = Arc::new(Invalid::default());
    let per_connection = options.invalid_rate / options.invalid_connections.max(1) as f64;
    for (index, (token, session)) in invalid.into_iter().enumerate() {
        tasks.spawn(invalid_frames(
            server,
            token,
            session,
            next_client + index,
            per_connection,
            invalid_counts.clone(),
            stop.clone(),
        ));
    }

    let progress = Progress {
        server_pid,
        logins: logins.clone(),
        stuck: stuck_counts.clone(),
        invalid: invalid_counts.clone(),
    };
    progress.show_for(options.ramp).await;
    let cpu_window = server_pid.and_then(cpu_secs);
    let window = chat.begin_window();
    eprintln!("measuring for {} s", options.chat.duration.as_secs());
    progress.show_for(options.chat.duration).await;
    let mut report = Report::new("hostile");
    chat.end_window(window, &mut report);
    let cpu_end = server_pid.and_then(cpu_secs);

    eprintln!("stopping the hostile load");
    stop_tx.send(true)?;
    let hostile_secs = hostile_started.elapsed().as_secs_f64();
    if tokio::time::timeout(DRAIN_WITHIN + Duration::from_secs(10), async {
        while tasks.join_next().await.is_some() {}
    })
    .await
    .is_err()
    {
        eprintln!("some hostile clients did not stop within 10 s");
        tasks.abort_all();
    }
    let (rss_peak, samples) = sampler.await?;
    eprintln!(
        "waiting {} s for the server to recover",
        options.after.as_secs()
    );
    tokio::time::sleep(options.after).await;
    let rss_after = server_pid.and_then(memory_mib).map(|(rss, _)| rss);
    report.server_memory(server_pid);
    chat.finish(&mut report).await?;

    let pct = |from: Option<f64>, to: Option<f64>, secs: f64| match (from, to) {
        (Some(from), Some(to)) if secs > 0.0 => json!(((to - from) / secs * 1000.0).round() / 10.0),
        _ => Value::Null,
    };
    report.set("hostile_secs", (hostile_secs * 10.0).round() / 10.0);
    report.set("server_rss_before_mib", rss_before);
    report.set("server_rss_hostile_peak_mib", rss_peak);
    report.set("server_rss_samples", samples);
    report.set("server_rss_after_mib", rss_after);
    report.set("after_secs", options.after.as_secs());
    report.set(
        "server_cpu_honest_pct",
        pct(cpu_warmup, cpu_honest, options.chat.warmup.as_secs_f64()),
    );
    report.set(
        "server_cpu_hostile_pct",
        pct(cpu_window, cpu_end, options.chat.duration.as_secs_f64()),
    );
    let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
    let sent = load(&logins.sent);
    report.set(
        "logins",
        json!({
            "concurrency": options.login_concurrency,
            "target_rate": (options.login_rate > 0.0).then_some(options.login_rate),
            "accounts": emails.len(),
            "sent": sent,
            "per_sec": (sent as f64 / hostile_secs).round(),
            "status_401": load(&logins.unauthorized),
            "status_429": load(&logins.throttled),
            "other_status": load(&logins.other),
            "failed": load(&logins.failed),
            "latency": logins.latency.summary(),
        }),
    );
    let s = &stuck_counts;
    report.set(
        "stuck_sockets",
        json!({
            "visitors": options.stuck_visitors,
            "conversation_messages": options.stuck_messages,
            "resumes_per_sec": options.stuck_resumes_per_sec,
            "pings_per_sec": options.stuck_pings_per_sec,
            "opened": load(&s.opened),
            "refused_upgrade": load(&s.refused),
            "connect_failed": load(&s.connect_failed),
            "dropped_by_server": load(&s.dropped) + load(&s.gone_when_read),
            "dropped_while_sending": load(&s.dropped),
            "stalled_writes": load(&s.stalled),
            "open_at_stop": load(&s.open_at_stop),
            "close_frame_when_read": load(&s.close_frame_when_read),
            "close_codes": s.close_codes.lock().expect("not poisoned").iter()
                .map(|(code, n)| (code.to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
            "closed_when_read": load(&s.closed_when_read),
            "max_queued_mib": (load(&s.max_queued) as f64 / 1024.0 / 1024.0 * 10.0).round() / 10.0,
            "frames_sent": load(&s.frames),
            "resumes_sent": load(&s.resumes),
            "max_unread_kib": (s.max_unread.load(Ordering::Relaxed) as f64 / 1024.0).round(),
            "time_to_drop": s.lifetime.summary(),
        }),
    );
    let i = &invalid_counts;
    report.set(
        "invalid_frames",
        json!({
            "connections": options.invalid_connections,
            "target_rate": options.invalid_rate,
            "sent": load(&i.sent),
            "answered": load(&i.answered),
            "answered_with_ref": load(&i.answered_with_ref),
            "rate_limited": load(&i.rate_limited),
            "unexpected_replies": load(&i.unexpected),
            "closed_by_server": load(&i.closed),
            "reconnect_failed": load(&i.reconnect_failed),
            "reply_latency": i.latency.summary(),
        }),
    );
    Ok(report)
}

/// Prints how the hostile load is doing every few seconds.
struct Progress {
    server_pid: Option<u32>,
    logins: Arc<Logins>,
    stuck: Arc<Stuck>,
    invalid: Arc<Invalid>,
}

impl Progress {
    async fn show_for(&self, duration: Duration) {
        let until = Instant::now() + duration;
        while Instant::now() < until {
            let left = until.saturating_duration_since(Instant::now());
            tokio::time::sleep(left.min(Duration::from_secs(5))).await;
            let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
            let rss = self
                .server_pid
                .and_then(memory_mib)
                .map_or("?".to_owned(), |(rss, _)| format!("{rss:.0}"));
            eprintln!(
                "server RSS {rss} MiB; logins 401 {} / 429 {}; stuck sockets opened {}, dropped while sending {}, stalled {}; invalid frames sent {}, answered {}",
                load(&self.logins.unauthorized),
                load(&self.logins.throttled),
                load(&self.stuck.opened),
                load(&self.stuck.dropped),
                load(&self.stuck.stalled),
                load(&self.invalid.sent),
                load(&self.invalid.answered),
            );
        }
    }
}

/// Creates `count` specialist accounts for the flood to guess at, and returns their
/// e-mails with as many that belong to nobody.
async fn login_targets(target: &Target, count: usize) -> Result<Vec<String>> {
    let admin = setup::admin_token(target).await?;
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis();
    let mut http = HttpClient::new(target.server);
    let mut emails = Vec::with_capacity(count * 2);
    for i in 0..count {
        let email = format!("hostile-{run}-{i}@bench.test");
        let create = json!({
            "email": email,
            "name": format!("Guessed {i}"),
            "password": format!("the-right-password-{run}"),
        });
        http.expect(
            201,
            "POST",
            "/api/v1/specialists",
            Some(&admin),
            Some(&create),
        )
        .await?;
        emails.push(email);
        emails.push(format!("nobody-{run}-{i}@bench.test"));
    }
    Ok(emails)
}

/// Signs up `count` visitors and starts a session for each (one nobody is staffed
/// for); returns their tokens and session ids.
async fn visitors_with_session(
    server: SocketAddr,
    count: usize,
    first_client: usize,
) -> Result<Vec<(String, String)>> {
    let tokens = setup::visitors(server, count).await?;
    let mut tasks = JoinSet::new();
    let connecting = Arc::new(Semaphore::new(64));
    for (index, token) in tokens.into_iter().enumerate() {
        let connecting = connecting.clone();
        tasks.spawn(async move {
            let _permit = connecting.acquire_owned().await?;
            let (mut ws, _) = Client::connect(server, &token, first_client + index).await?;
            let started = ws
                .request(
                    json!({"type": "session.start", "skills": [UNSTAFFED]}),
                    "start",
                )
                .await?;
            let session = started["session"]["id"]
                .as_str()
                .ok_or("session.started without a session id")?
                .to_owned();
            Ok::<_, crate::Error>((token, session))
        });
    }
    let mut visitors = Vec::with_capacity(count);
    while let Some(done) = tasks.join_next().await {
        visitors.push(done??);
    }
    Ok(visitors)
}

/// Gives every stuck visitor's conversation `messages` long messages, so that one
/// `session.resume` asks the server for about a MiB.
async fn fill(
    server: SocketAddr,
    visitors: &[(String, String)],
    messages: usize,
    first_client: usize,
) -> Result<()> {
    let started = Instant::now();
    let connecting = Arc::new(Semaphore::new(64));
    let mut tasks = JoinSet::new();
    for (v, (token, session)) in visitors.iter().enumerate() {
        for c in 0..FILL_CONNECTIONS {
            let count = messages / FILL_CONNECTIONS + usize::from(c < messages % FILL_CONNECTIONS);
            let (token, session, connecting) = (token.clone(), session.clone(), connecting.clone());
            let index = first_client + v * FILL_CONNECTIONS + c;
            tasks.spawn(async move {
                let permit = connecting.acquire_owned().await?;
                let (ws, _) = Client::connect(server, &token, index).await?;
                drop(permit);
                tokio::time::timeout(Duration::from_secs(300), fill_over(ws, &session, count, c))
                    .await
                    .map_err(|_| "filling a conversation took over 300 s")?
            });
        }
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    eprintln!(
        "filled {} conversations with {messages} messages each in {:.1}s",
        visitors.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn fill_over(mut ws: Client, session: &str, count: usize, connection: usize) -> Result<()> {
    let line = "stuck visitor's long conversation, to be resumed without ever being read. ";
    let mut pacing = interval(Duration::from_secs_f64(1.0 / FILL_RATE));
    pacing.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let (mut sent, mut acked) = (0, 0);
    while acked < count {
        tokio::select! {
            _ = pacing.tick(), if sent < count => {
                let mut body = format!("s{connection}-{sent} ");
                while body.len() + line.len() <= FILL_CHARS {
                    body.push_str(line);
                }
                let frame = json!({
                    "type": "message.send",
                    "ref": sent.to_string(),
                    "session_id": session,
                    "client_msg_id": format!("fill-{connection}-{sent}"),
                    "body": body.trim_end(),
                });
                ws.send(&frame).await?;
                sent += 1;
            }
            text = ws.next_text() => {
                let text = text?.ok_or("closed while filling a conversation")?;
                let frame: Value = serde_json::from_str(&text)?;
                match frame["type"].as_str() {
                    Some("message.ack") => acked += 1,
                    Some("error") => return Err(format!("filling a conversation: {text}").into()),
                    _ => {}
                }
            }
        }
    }
    Ok(())
}

/// Waits (at most a minute) until the server is nearly idle, so the indexing of the
/// filled conversations does not spill into the measurement.
async fn settle(pid: u32) {
    let started = Instant::now();
    let mut last = cpu_secs(pid);
    while started.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = cpu_secs(pid);
        if let (Some(last), Some(now)) = (last, now) {
            if now - last < 0.15 {
                eprintln!(
                    "server settled after {:.0}s",
                    started.elapsed().as_secs_f64()
                );
                return;
            }
        }
        last = now;
    }
    eprintln!("the server was still busy after 60 s; going on");
}

/// The peak of the server's RSS, read every [`SAMPLE_EVERY`] until stopped, and the
/// number of readings.
async fn sample_memory(pid: Option<u32>, mut stop: watch::Receiver<bool>) -> (Option<f64>, u64) {
    let Some(pid) = pid else {
        return (None, 0);
    };
    let mut peak: Option<f64> = None;
    let mut samples = 0;
    let mut ticker = interval(SAMPLE_EVERY);
    loop {
        tokio::select! {
            biased;
            _ = stopped(&mut stop) => break,
            _ = ticker.tick() => {}
        }
        if let Some((rss, _)) = memory_mib(pid) {
            peak = Some(peak.map_or(rss, |p: f64| p.max(rss)));
            samples += 1;
        }
    }
    // One more reading as the hostile clients go.
    if let Some((rss, _)) = memory_mib(pid) {
        peak = Some(peak.map_or(rss, |p: f64| p.max(rss)));
        samples += 1;
    }
    (peak, samples)
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await.map(|_| ());
}

fn pacing(per_sec: f64) -> Interval {
    let mut ticker = interval(Duration::from_secs_f64(1.0 / per_sec.max(0.001)));
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ticker
}

/// One connection of the login flood: wrong passwords for the target e-mails in turn.
async fn login_flood(
    server: SocketAddr,
    emails: Arc<Vec<String>>,
    worker: usize,
    per_sec: Option<f64>,
    counts: Arc<Logins>,
    mut stop: watch::Receiver<bool>,
) {
    let mut http = HttpClient::new(server);
    let mut ticker = per_sec.map(pacing);
    for attempt in worker.. {
        if let Some(ticker) = ticker.as_mut() {
            tokio::select! {
                biased;
                _ = stopped(&mut stop) => return,
                _ = ticker.tick() => {}
            }
        } else if *stop.borrow() {
            return;
        }
        let body = json!({
            "email": emails[attempt % emails.len()],
            "password": format!("guess-{attempt}"),
        });
        let started = Instant::now();
        let result = tokio::select! {
            biased;
            _ = stopped(&mut stop) => return,
            result = http.call("POST", "/api/v1/auth/login", None, Some(&body)) => result,
        };
        counts.sent.fetch_add(1, Ordering::Relaxed);
        match result {
            Ok((status, _)) => {
                counts.latency.record(started.elapsed());
                match status {
                    401 => counts.unauthorized.fetch_add(1, Ordering::Relaxed),
                    429 => counts.throttled.fetch_add(1, Ordering::Relaxed),
                    _ => {
                        if counts.other.fetch_add(1, Ordering::Relaxed) < 3 {
                            eprintln!("login flood: unexpected status {status}");
                        }
                        0
                    }
                };
            }
            Err(error) => {
                if counts.failed.fetch_add(1, Ordering::Relaxed) < 3 {
                    eprintln!("login flood: {error}");
                }
                http = HttpClient::new(server);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// One stuck visitor: connects without ever reading, starts its session and asks for
/// it again and again; connects again whenever the server drops the socket.
async fn never_read(
    server: SocketAddr,
    token: String,
    session: String,
    seed: u32,
    options: HostileOptions,
    counts: Arc<Stuck>,
    mut stop: watch::Receiver<bool>,
) {
    let per_sec = options.stuck_resumes_per_sec + options.stuck_pings_per_sec;
    let resume_share = options.stuck_resumes_per_sec / per_sec.max(0.001);
    let start = format!(r#"{{"type":"session.start","ref":"start","skills":["{UNSTAFFED}"]}}"#);
    let mut connection = 0u32;
    while !*stop.borrow() {
        connection += 1;
        let upgrade = tokio::select! {
            biased;
            _ = stopped(&mut stop) => return,
            upgrade = RawSocket::connect(server, &token, seed.wrapping_mul(7919).wrapping_add(connection)) => upgrade,
        };
        let mut socket = match upgrade {
            Ok(Upgrade::Open(socket)) => socket,
            Ok(Upgrade::Refused(status)) => {
                if counts.refused.fetch_add(1, Ordering::Relaxed) < 3 {
                    eprintln!("stuck visitor: upgrade refused with {status}");
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
                continue;
            }
            Err(error) => {
                if counts.connect_failed.fetch_add(1, Ordering::Relaxed) < 3 {
                    eprintln!("stuck visitor: {error}");
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
                continue;
            }
        };
        counts.opened.fetch_add(1, Ordering::Relaxed);
        let opened = Instant::now();
        let mut ticker = pacing(per_sec);
        let mut frames = 0u64;
        let mut frame = start.clone();
        loop {
            if !socket.established() {
                counts.dropped.fetch_add(1, Ordering::Relaxed);
                counts.lifetime.record(opened.elapsed());
                break;
            }
            counts
                .max_unread
                .fetch_max(socket.unread_bytes(), Ordering::Relaxed);
            match socket.send_text(&frame, WRITE_STALL).await {
                SendOutcome::Sent => {
                    counts.frames.fetch_add(1, Ordering::Relaxed);
                }
                SendOutcome::Closed => {
                    counts.dropped.fetch_add(1, Ordering::Relaxed);
                    counts.lifetime.record(opened.elapsed());
                    break;
                }
                SendOutcome::Stalled => {
                    counts.stalled.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            }
            frames += 1;
            // Resumes spread evenly among the pings.
            let resumes = |n: u64| (n as f64 * resume_share).floor();
            frame = if resumes(frames + 1) > resumes(frames) {
                counts.resumes.fetch_add(1, Ordering::Relaxed);
                format!(
                    r#"{{"type":"session.resume","ref":"r{frames}","session_id":"{session}","after_seq":0}}"#
                )
            } else {
                format!(r#"{{"type":"ping","ref":"p{frames}"}}"#)
            };
            tokio::select! {
                biased;
                _ = stopped(&mut stop) => {
                    counts.open_at_stop.fetch_add(1, Ordering::Relaxed);
                    let drained = socket.drain(DRAIN_WITHIN).await;
                    counts.max_queued.fetch_max(drained.bytes, Ordering::Relaxed);
                    if let Some(code) = drained.close_code {
                        counts.close_frame_when_read.fetch_add(1, Ordering::Relaxed);
                        *counts.close_codes.lock().expect("not poisoned").entry(code).or_default() += 1;
                    }
                    if drained.eof {
                        counts.closed_when_read.fetch_add(1, Ordering::Relaxed);
                    }
                    if drained.eof || drained.close_code.is_some() {
                        counts.gone_when_read.fetch_add(1, Ordering::Relaxed);
                    }
                    return;
                }
                _ = ticker.tick() => {}
            }
        }
    }
}

/// The broken frames, in turn: (text, the `ref` the error should carry).
fn invalid_frame(n: u64, session: &str) -> (String, Option<String>) {
    let reference = format!("bad-{n}");
    let long_ref = "x".repeat(100);
    match n % 8 {
        0 => (format!("this is not JSON {{ {n}"), None),
        1 => (
            format!(r#"{{"type":"no.such.request","ref":"{reference}"}}"#),
            Some(reference),
        ),
        2 => (
            format!(
                r#"{{"type":"message.send","ref":"{reference}","session_id":"{session}","client_msg_id":"nul\u0000{n}","body":"hello"}}"#
            ),
            Some(reference),
        ),
        3 => (format!(r#"{{"type":"ping","ref":"{long_ref}"}}"#), None),
        4 => (
            format!(
                r#"{{"type":"message.send","ref":"{reference}","session_id":"{session}","client_msg_id":"body-{n}","body":"a NUL \u0000 in the body"}}"#
            ),
            Some(reference),
        ),
        5 => (
            format!(
                r#"{{"type":"session.resume","ref":"{reference}","session_id":"not-a-uuid","after_seq":"zero"}}"#
            ),
            Some(reference),
        ),
        6 => (
            format!(r#"{{"type":"history","ref":"{reference}"}}"#),
            Some(reference),
        ),
        _ => (format!("[{n}, 2, 3]"), None),
    }
}

/// One visitor sending broken frames at a steady rate and reading the errors; connects
/// again when the server closes the connection.
async fn invalid_frames(
    server: SocketAddr,
    token: String,
    session: String,
    index: usize,
    per_sec: f64,
    counts: Arc<Invalid>,
    mut stop: watch::Receiver<bool>,
) {
    let mut n = 0u64;
    'connect: while !*stop.borrow() {
        let mut ws = match Client::connect(server, &token, index).await {
            Ok((ws, _)) => ws,
            Err(error) => {
                if counts.reconnect_failed.fetch_add(1, Ordering::Relaxed) < 3 {
                    eprintln!("invalid frames: {error}");
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
                continue;
            }
        };
        let mut pending: HashMap<String, Instant> = HashMap::new();
        let mut ticker = pacing(per_sec);
        loop {
            tokio::select! {
                biased;
                _ = stopped(&mut stop) => return,
                _ = ticker.tick() => {
                    let (text, reference) = invalid_frame(n, &session);
                    n += 1;
                    if ws.send_text(text).await.is_err() {
                        counts.closed.fetch_add(1, Ordering::Relaxed);
                        continue 'connect;
                    }
                    counts.sent.fetch_add(1, Ordering::Relaxed);
                    if let Some(reference) = reference {
                        pending.insert(reference, Instant::now());
                    }
                }
                text = ws.next_text() => {
                    let Ok(Some(text)) = text else {
                        counts.closed.fetch_add(1, Ordering::Relaxed);
                        continue 'connect;
                    };
                    let Ok(frame) = serde_json::from_str::<Value>(&text) else { continue };
                    let sent_at = frame["ref"].as_str().and_then(|r| pending.remove(r));
                    if frame["type"] == "error" {
                        counts.answered.fetch_add(1, Ordering::Relaxed);
                        if frame["code"] == "rate_limited" {
                            counts.rate_limited.fetch_add(1, Ordering::Relaxed);
                        }
                        if let Some(sent_at) = sent_at {
                            counts.answered_with_ref.fetch_add(1, Ordering::Relaxed);
                            counts.latency.record(sent_at.elapsed());
                        }
                    } else if sent_at.is_some() {
                        // A broken frame was taken as a valid request.
                        if counts.unexpected.fetch_add(1, Ordering::Relaxed) < 3 {
                            eprintln!("invalid frames: accepted, answered with {text}");
                        }
                    }
                }
            }
        }
    }
}
