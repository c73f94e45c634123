//! Live conversations: specialists online in consoles accept offers, visitors start
//! chats, and once every chat is assigned the visitors send messages, either at a fixed
//! aggregate rate or flat out with a window of unacknowledged messages each.
//!
//! Ack latency is measured by the sending visitor from the moment the message was due
//! (so a stalled server cannot hide behind a client that stopped sending); delivery
//! latency by the specialist's console from the send time carried in the body.

use std::collections::VecDeque;
use std::future::pending;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio::time::{interval, interval_at, Interval, MissedTickBehavior};

use crate::setup::{self, Target};
use crate::stats::{Latency, Report};
use crate::ws::{Client, Frame};
use crate::Result;

/// Typical short chat line; the leading `t<nanos>` is the send time.
const FILLER: &str = "hello, I have a question about my order and its delivery";
/// WebSocket handshakes in flight at once while connecting.
const CONNECTING: usize = 64;

#[derive(Clone, Debug)]
pub struct ChatOptions {
    pub conversations: usize,
    pub capacity: usize,
    /// Aggregate messages per second; `None` sends flat out with `window` in flight.
    pub rate: Option<f64>,
    pub window: usize,
    pub warmup: Duration,
    pub duration: Duration,
    pub accepts_per_sec: f64,
    /// A visitor whose socket closes connects again through `--server` (a cluster's
    /// balancer) and sends its unacknowledged messages again (same `client_msg_id`), as
    /// the widget does.
    pub reconnect: bool,
    /// Where to write `session_id,client_msg_id` of every acknowledged message, for a
    /// check that each one is stored.
    pub acked_out: Option<std::path::PathBuf>,
    /// A process (a node of the cluster) to kill with SIGKILL this long after sending
    /// starts.
    pub kill: Option<(u32, Duration)>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    Setup,
    Run,
    Stop,
}

struct Shared {
    options: ChatOptions,
    visitor_servers: Vec<std::net::SocketAddr>,
    console_servers: Vec<std::net::SocketAddr>,
    /// Where a visitor reconnects: the balancer.
    balancer: std::net::SocketAddr,
    /// Origin of the send times carried in message bodies.
    epoch: Instant,
    /// Samples count only for messages due from this many nanoseconds past `epoch`
    /// until `measure_until`.
    measure_from: AtomicU64,
    measure_until: AtomicU64,
    phase: watch::Receiver<Phase>,
    online: AtomicUsize,
    assigned: AtomicUsize,
    sent: AtomicU64,
    acked: AtomicU64,
    delivered: AtomicU64,
    errors: AtomicU64,
    reconnects: AtomicU64,
    /// `session_id,client_msg_id` of each acknowledged message, when asked for.
    acked_ids: std::sync::Mutex<Vec<String>>,
    connect: Latency,
    queue_entry: Latency,
    ack: Latency,
    delivery: Latency,
}

impl Shared {
    fn measuring(&self, sent_at: Instant) -> bool {
        let at = sent_at.duration_since(self.epoch).as_nanos() as u64;
        at >= self.measure_from.load(Ordering::Relaxed)
            && at < self.measure_until.load(Ordering::Relaxed)
    }

    fn error(&self, context: &str, frame: &str) {
        if self.errors.fetch_add(1, Ordering::Relaxed) < 5 {
            eprintln!("{context}: {frame}");
        }
    }
}

pub async fn run(target: &Target, options: ChatOptions, server_pid: Option<u32>) -> Result<Report> {
    let mut report = Report::new(if options.rate.is_some() {
        "rate"
    } else {
        "flat-out"
    });
    let chat = Chat::prepare(target, options.clone()).await?;
    chat.start_sending()?;
    if let Some((pid, after)) = options.kill {
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            eprintln!("killing process {pid}");
            // SAFETY: kill(2) only sends a signal; a wrong pid is an error, not UB.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        });
        report.set("killed_after_secs", after.as_secs_f64());
    }
    tokio::time::sleep(options.warmup).await;
    let window = chat.begin_window();
    tokio::time::sleep(options.duration).await;
    chat.end_window(window, &mut report);
    report.server_memory(server_pid);
    chat.finish(&mut report).await?;
    Ok(report)
}

/// Conversations set up and assigned, ready to send; the caller decides when sending
/// starts, which part of it is measured, and when it stops (the `hostile` scenario runs
/// other load around the measured window).
pub struct Chat {
    shared: Arc<Shared>,
    phase: watch::Sender<Phase>,
    consoles: JoinSet<Result<()>>,
    visitors: JoinSet<Result<()>>,
    specialists: usize,
}

/// The start of a measured window.
pub struct Window {
    from: Instant,
    acked: u64,
    delivered: u64,
}

impl Chat {
    /// Creates the specialists and visitors, brings the consoles online and waits until
    /// every visitor's chat is assigned.
    pub async fn prepare(target: &Target, options: ChatOptions) -> Result<Chat> {
        let (phase_tx, phase) = watch::channel(Phase::Setup);
        let shared = Arc::new(Shared {
            options: options.clone(),
            visitor_servers: target.visitor_servers.clone(),
            console_servers: target.console_servers.clone(),
            balancer: target.server,
            epoch: Instant::now(),
            measure_from: AtomicU64::new(u64::MAX),
            measure_until: AtomicU64::new(u64::MAX),
            phase,
            online: AtomicUsize::new(0),
            assigned: AtomicUsize::new(0),
            sent: AtomicU64::new(0),
            acked: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            acked_ids: std::sync::Mutex::new(Vec::new()),
            connect: Latency::default(),
            queue_entry: Latency::default(),
            ack: Latency::default(),
            delivery: Latency::default(),
        });

        let specialists = options.conversations.div_ceil(options.capacity);
        eprintln!(
            "creating {specialists} specialists and {} visitors",
            options.conversations
        );
        let console_tokens = setup::specialists(target, specialists, options.capacity).await?;
        let visitor_tokens = setup::visitors(target.server, options.conversations).await?;

        let mut consoles = JoinSet::new();
        for (index, token) in console_tokens.into_iter().enumerate() {
            consoles.spawn(console(shared.clone(), token, index));
        }
        wait_for(
            &shared.online,
            specialists,
            "consoles online",
            &mut consoles,
        )
        .await?;

        let connecting = Arc::new(Semaphore::new(CONNECTING));
        let mut visitors = JoinSet::new();
        for (index, token) in visitor_tokens.into_iter().enumerate() {
            let permit = connecting.clone();
            visitors.spawn(visitor(shared.clone(), token, specialists + index, permit));
        }
        let assigning = Instant::now();
        wait_for(
            &shared.assigned,
            options.conversations,
            "chats assigned",
            &mut visitors,
        )
        .await?;
        eprintln!(
            "all chats assigned in {:.1}s",
            assigning.elapsed().as_secs_f64()
        );
        Ok(Chat {
            shared,
            phase: phase_tx,
            consoles,
            visitors,
            specialists,
        })
    }

    /// WebSocket clients this chat opened (consoles and visitors), for numbering more.
    pub fn clients(&self) -> usize {
        self.specialists + self.shared.options.conversations
    }

    pub fn start_sending(&self) -> Result<()> {
        eprintln!("sending");
        self.phase.send(Phase::Run)?;
        Ok(())
    }

    /// From now on, latencies of messages due are recorded.
    pub fn begin_window(&self) -> Window {
        let from = Instant::now();
        self.shared.measure_from.store(
            from.duration_since(self.shared.epoch).as_nanos() as u64,
            Ordering::Relaxed,
        );
        Window {
            from,
            acked: self.shared.acked.load(Ordering::Relaxed),
            delivered: self.shared.delivered.load(Ordering::Relaxed),
        }
    }

    /// Messages due from now on are no longer measured; the window's rates go in the
    /// report.
    pub fn end_window(&self, window: Window, report: &mut Report) {
        let shared = &self.shared;
        let now = Instant::now();
        shared.measure_until.store(
            now.duration_since(shared.epoch).as_nanos() as u64,
            Ordering::Relaxed,
        );
        let elapsed = now.duration_since(window.from).as_secs_f64();
        let acked = shared.acked.load(Ordering::Relaxed) - window.acked;
        let delivered = shared.delivered.load(Ordering::Relaxed) - window.delivered;
        report.set("measured_secs", (elapsed * 10.0).round() / 10.0);
        report.set("acked_per_sec", (acked as f64 / elapsed).round());
        report.set("delivered_per_sec", (delivered as f64 / elapsed).round());
    }

    /// Stops sending, waits for the outstanding acks and adds the totals and latencies.
    pub async fn finish(mut self, report: &mut Report) -> Result<()> {
        self.phase.send(Phase::Stop)?;
        let shared = &self.shared;
        let options = &shared.options;
        // Every message sent must be acknowledged; give stragglers a moment.
        let visitors = &mut self.visitors;
        let drained = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(result) = visitors.join_next().await {
                result??;
            }
            Ok::<_, crate::Error>(())
        })
        .await;
        self.consoles.abort_all();
        match drained {
            Ok(result) => result?,
            Err(_) => eprintln!("some visitors still had unacknowledged messages after 30 s"),
        }

        report.set("conversations", options.conversations);
        report.set("specialists", self.specialists);
        report.set(
            "target_rate",
            options.rate.map(Value::from).unwrap_or(Value::Null),
        );
        report.set(
            "window",
            options.rate.map_or(json!(options.window), |_| Value::Null),
        );
        report.set("sent_total", shared.sent.load(Ordering::Relaxed));
        report.set("acked_total", shared.acked.load(Ordering::Relaxed));
        report.set("errors", shared.errors.load(Ordering::Relaxed));
        report.set("reconnects", shared.reconnects.load(Ordering::Relaxed));
        if let Some(path) = &options.acked_out {
            let ids = shared.acked_ids.lock().map_err(|_| "acked ids poisoned")?;
            std::fs::write(path, ids.join("\n") + "\n")?;
        }
        report.set("ack_latency", shared.ack.summary());
        report.set("delivery_latency", shared.delivery.summary());
        report.set("connect", shared.connect.summary());
        report.set(
            "session_start_to_queue_update",
            shared.queue_entry.summary(),
        );
        Ok(())
    }
}

/// Waits until `counter` reaches `goal`, failing early when a task fails.
async fn wait_for(
    counter: &AtomicUsize,
    goal: usize,
    what: &str,
    tasks: &mut JoinSet<Result<()>>,
) -> Result<()> {
    let started = Instant::now();
    let mut tick = interval(Duration::from_millis(50));
    let mut last_note = Instant::now();
    while counter.load(Ordering::Relaxed) < goal {
        tokio::select! {
            _ = tick.tick() => {}
            Some(result) = tasks.join_next() => {
                result??;
                return Err(format!("a task ended before {what}").into());
            }
        }
        if started.elapsed() > Duration::from_secs(300) {
            return Err(
                format!("{what}: only {} of {goal}", counter.load(Ordering::Relaxed)).into(),
            );
        }
        if last_note.elapsed() > Duration::from_secs(5) {
            last_note = Instant::now();
            eprintln!("{what}: {} of {goal}", counter.load(Ordering::Relaxed));
        }
    }
    Ok(())
}

/// A console, whose failure is said at once: the run waits for chats it would accept.
async fn console(shared: Arc<Shared>, token: String, index: usize) -> Result<()> {
    let ended = run_console(shared, token, index).await;
    if let Err(error) = &ended {
        eprintln!("console {index}: {error}");
    }
    ended
}

async fn run_console(shared: Arc<Shared>, token: String, index: usize) -> Result<()> {
    let connecting = Instant::now();
    let server = shared.console_servers[index % shared.console_servers.len()];
    let (mut ws, _) = Client::connect(server, &token, index).await?;
    shared.connect.record(connecting.elapsed());
    ws.request(json!({"type": "status.set", "status": "online"}), "online")
        .await?;
    shared.online.fetch_add(1, Ordering::Relaxed);

    // A person accepts offers one by one; the server also rate-limits each connection.
    let mut offers: VecDeque<String> = VecDeque::new();
    let mut pacing = interval(Duration::from_secs_f64(
        1.0 / shared.options.accepts_per_sec,
    ));
    pacing.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = pacing.tick(), if !offers.is_empty() => {
                let offer = offers.pop_front().expect("not empty");
                ws.send_text(format!(
                    r#"{{"type":"offer.accept","ref":"accept","offer_id":"{offer}"}}"#
                ))
                .await?;
            }
            text = ws.next_text() => {
                let Some(text) = text? else { return Ok(()) };
                let frame: Frame = serde_json::from_str(&text)?;
                match frame.kind {
                    "offer" => offers.push_back(frame.offer_id.ok_or("offer without id")?.to_owned()),
                    "message.new" => {
                        let now = Instant::now();
                        let sent_nanos = frame
                            .message
                            .and_then(|m| m.body())
                            .and_then(|b| b.strip_prefix('t'))
                            .and_then(|b| b.split(' ').next())
                            .and_then(|n| n.parse::<u64>().ok());
                        if let Some(nanos) = sent_nanos {
                            let sent_at = shared.epoch + Duration::from_nanos(nanos);
                            shared.delivered.fetch_add(1, Ordering::Relaxed);
                            if shared.measuring(sent_at) {
                                shared.delivery.record(now.saturating_duration_since(sent_at));
                            }
                        }
                    }
                    "error" => shared.error("console", &text),
                    _ => {}
                }
            }
        }
    }
}

async fn visitor(
    shared: Arc<Shared>,
    token: String,
    index: usize,
    connecting: Arc<Semaphore>,
) -> Result<()> {
    let permit = connecting.acquire_owned().await?;
    let started = Instant::now();
    let server = shared.visitor_servers[index % shared.visitor_servers.len()];
    let (mut ws, _) = Client::connect(server, &token, index).await?;
    shared.connect.record(started.elapsed());
    drop(permit);

    let starting = Instant::now();
    ws.send_text(r#"{"type":"session.start","ref":"start"}"#.to_owned())
        .await?;
    let (mut session_id, mut queued) = (None, false);
    loop {
        let text = ws.next_text().await?.ok_or("closed before assignment")?;
        let frame: Value = serde_json::from_str(&text)?;
        match frame["type"].as_str().unwrap_or_default() {
            "session.started" => {
                session_id = frame["session"]["id"].as_str().map(str::to_owned);
            }
            "queue.update" if !queued => {
                queued = true;
                shared.queue_entry.record(starting.elapsed());
            }
            "session.assigned" => break,
            "error" => return Err(format!("session.start: {text}").into()),
            _ => {}
        }
    }
    let session_id = session_id.ok_or("assigned before started")?;
    shared.assigned.fetch_add(1, Ordering::Relaxed);

    let mut phase = shared.phase.clone();
    ws.idle_until(async { phase.wait_for(|p| *p != Phase::Setup).await.map(|_| ()) })
        .await??;
    let options = &shared.options;
    let mut ticker = options.rate.map(|rate| {
        // Spread the conversations evenly over each period.
        let period = Duration::from_secs_f64(options.conversations as f64 / rate);
        let offset =
            period.mul_f64((index % options.conversations) as f64 / options.conversations as f64);
        let mut ticker = interval_at((Instant::now() + offset).into(), period);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Burst);
        ticker
    });

    let mut sender = Sender {
        ws,
        session_id,
        index,
        next: 0,
        pending: VecDeque::new(),
    };
    if ticker.is_none() {
        for _ in 0..options.window {
            sender.send(&shared, Instant::now()).await?;
        }
    }
    let mut stopping = false;
    loop {
        if stopping && sender.pending.is_empty() {
            return Ok(());
        }
        tokio::select! {
            due = tick(&mut ticker), if !stopping => sender.send(&shared, due).await?,
            _ = stop_requested(&mut phase), if !stopping => stopping = true,
            text = sender.ws.next_text() => {
                let text = match text {
                    Ok(Some(text)) => text,
                    Ok(None) | Err(_) if options.reconnect => {
                        sender.reconnect(&shared, &token).await?;
                        continue;
                    }
                    text => text?.ok_or("closed while sending")?,
                };
                let frame: Frame = serde_json::from_str(&text)?;
                match frame.kind {
                    "message.ack" => {
                        sender.settle(&shared, frame.reference);
                        shared.acked.fetch_add(1, Ordering::Relaxed);
                        if ticker.is_none() && !stopping {
                            sender.send(&shared, Instant::now()).await?;
                        }
                    }
                    "error" => {
                        sender.settle(&shared, None);
                        shared.error("visitor", &text);
                    }
                    _ => {}
                }
            }
        }
    }
}

async fn stop_requested(phase: &mut watch::Receiver<Phase>) {
    // The guard `wait_for` returns must not live across an await: drop it here.
    let _ = phase.wait_for(|p| *p == Phase::Stop).await.map(|_| ());
}

async fn tick(ticker: &mut Option<Interval>) -> Instant {
    match ticker {
        Some(ticker) => ticker.tick().await.into_std(),
        None => pending().await,
    }
}

/// One visitor's outgoing messages and the ones not yet acknowledged.
struct Sender {
    ws: Client,
    session_id: String,
    index: usize,
    next: u64,
    pending: VecDeque<(u64, Instant)>,
}

impl Sender {
    async fn send(&mut self, shared: &Shared, due: Instant) -> Result<()> {
        self.next += 1;
        self.pending.push_back((self.next, due));
        shared.sent.fetch_add(1, Ordering::Relaxed);
        self.write(shared, self.next, due).await
    }

    async fn write(&mut self, shared: &Shared, n: u64, due: Instant) -> Result<()> {
        let nanos = due.duration_since(shared.epoch).as_nanos();
        let (session, index) = (&self.session_id, self.index);
        self.ws
            .send_text(format!(
                r#"{{"type":"message.send","ref":"{n}","session_id":"{session}","client_msg_id":"{index}-{n}","body":"t{nanos} {FILLER}"}}"#
            ))
            .await
    }

    /// Connects again through the balancer and sends the messages not yet acknowledged
    /// again; each is stored once, whichever node had it.
    async fn reconnect(&mut self, shared: &Shared, token: &str) -> Result<()> {
        shared.reconnects.fetch_add(1, Ordering::Relaxed);
        self.ws = loop {
            match Client::connect(shared.balancer, token, self.index).await {
                Ok((ws, _)) => break ws,
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        };
        let unacknowledged: Vec<(u64, Instant)> = self.pending.iter().copied().collect();
        for (n, due) in unacknowledged {
            self.write(shared, n, due).await?;
        }
        Ok(())
    }

    /// Records the ack latency of the message with this `ref` (the oldest one for an
    /// error without a ref: a session handles its messages in order).
    fn settle(&mut self, shared: &Shared, reference: Option<&str>) {
        let position = reference
            .and_then(|r| r.parse::<u64>().ok())
            .and_then(|n| self.pending.iter().position(|(m, _)| *m == n))
            .unwrap_or(0);
        if let Some((n, due)) = self.pending.remove(position) {
            if shared.measuring(due) {
                shared.ack.record(due.elapsed());
            }
            if shared.options.acked_out.is_some() {
                let id = format!("{},{}-{n}", self.session_id, self.index);
                if let Ok(mut ids) = shared.acked_ids.lock() {
                    ids.push(id);
                }
            }
        }
    }
}
