//! Group commit. Every chat write goes through [`Persistence`], which merges the requests
//! that arrive while earlier transactions are committing into the next transaction, so a
//! busy server commits many writes per round trip and throughput grows with load. Each
//! requester is answered only after the transaction holding its write has committed.
//!
//! [`Persistence`] is a queue shared with the [`DbWriter`] threads behind a `SyncArbiter`.
//! A writer takes everything queued (up to a batch limit) when it is free, so requests
//! go from the actor that makes them straight to a writer: no actor in between to wake
//! for every message (that hop was a seventh of the server's CPU at flat out). An idle
//! writer is woken with a [`Drain`] message. If a merged transaction fails, its requests
//! are retried one by one, so one bad request never fails the writes it happened to
//! share a transaction with.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use actix::prelude::*;
use diesel::pg::PgConnection;
use diesel::Connection;
use tokio::sync::oneshot;

use crate::db::{self, messages::Message as MessageRow, Pool};
use crate::domain::SpecialistId;
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::webhooks::{outbox, Webhooks};

/// Most messages one transaction inserts; beyond it the next batch takes the rest.
const MAX_BATCH_MESSAGES: usize = 4096;

/// Any other write, run inside the batch's transaction. The work may run twice (once
/// merged, once alone after a failed batch), so it must only touch the database.
pub struct Transact<T> {
    work: Box<Work<T>>,
    /// The specialist whose row the work locks (an assignment counts their chats).
    specialist: Option<SpecialistId>,
}

type Work<T> = dyn Fn(&mut PgConnection) -> Result<T> + Send;

impl<T> Transact<T> {
    pub fn new(work: impl Fn(&mut PgConnection) -> Result<T> + Send + 'static) -> Self {
        Self {
            work: Box::new(work),
            specialist: None,
        }
    }

    /// Work that locks `specialist`'s row: its transaction locks every such row first,
    /// in id order, so two transactions assigning to the same specialists in different
    /// orders take turns instead of deadlocking.
    pub fn locking(self, specialist: Option<SpecialistId>) -> Self {
        Self { specialist, ..self }
    }
}

/// A queued write with the channel its requester waits on.
enum Request {
    Append {
        messages: Vec<MessageRow>,
        /// The writer's epoch for the session of these messages.
        epoch: i64,
        reply: oneshot::Sender<Result<()>>,
    },
    Transact(Box<dyn Job>),
}

/// A type-erased [`Transact`]: runs its work and keeps the output until the commit.
trait Job: Send {
    fn specialist(&self) -> Option<SpecialistId>;
    fn run(&mut self, conn: &mut PgConnection) -> Result<()>;
    fn succeed(self: Box<Self>);
    fn fail(self: Box<Self>, error: Error);
}

struct TypedJob<T> {
    transact: Transact<T>,
    output: Option<T>,
    reply: oneshot::Sender<Result<T>>,
}

impl<T: Send + 'static> Job for TypedJob<T> {
    fn specialist(&self) -> Option<SpecialistId> {
        self.transact.specialist
    }

    fn run(&mut self, conn: &mut PgConnection) -> Result<()> {
        self.output = Some((self.transact.work)(conn)?);
        Ok(())
    }

    fn succeed(self: Box<Self>) {
        let this = *self;
        let output = this.output.expect("a job succeeds only after it ran");
        let _ = this.reply.send(Ok(output));
    }

    fn fail(self: Box<Self>, error: Error) {
        let _ = self.reply.send(Err(error));
    }
}

impl Request {
    fn message_count(&self) -> usize {
        match self {
            Request::Append { messages, .. } => messages.len(),
            Request::Transact(_) => 0,
        }
    }

    fn succeed(self) {
        match self {
            Request::Append { reply, .. } => {
                let _ = reply.send(Ok(()));
            }
            Request::Transact(job) => job.succeed(),
        }
    }

    fn fail(self, error: Error) {
        match self {
            Request::Append { reply, .. } => {
                let _ = reply.send(Err(error));
            }
            Request::Transact(job) => job.fail(error),
        }
    }
}

/// The queue in front of the writer threads; clones share it.
#[derive(Clone)]
pub struct Persistence {
    queue: Arc<Mutex<Queue>>,
    writers: Addr<DbWriter>,
}

struct Queue {
    pending: Vec<Request>,
    /// Writers with nothing to do and no [`Drain`] on its way to them.
    idle: usize,
}

impl Persistence {
    pub fn start(
        pool: Pool,
        writers: usize,
        metrics: Arc<Metrics>,
        webhooks: Arc<Webhooks>,
    ) -> Persistence {
        let count = writers.max(1);
        let queue = Arc::new(Mutex::new(Queue {
            pending: Vec::new(),
            idle: count,
        }));
        let shared = queue.clone();
        let writers = SyncArbiter::start(count, move || DbWriter {
            pool: pool.clone(),
            metrics: metrics.clone(),
            webhooks: webhooks.clone(),
            queue: shared.clone(),
        });
        Persistence { queue, writers }
    }

    /// Appends one session's messages, written at `epoch`, and resolves once they are
    /// committed: the hot path.
    pub fn append(
        &self,
        messages: Vec<MessageRow>,
        epoch: i64,
    ) -> impl std::future::Future<Output = Result<()>> {
        let (reply, answer) = oneshot::channel();
        self.enqueue(Request::Append {
            messages,
            epoch,
            reply,
        });
        answered(answer)
    }

    /// Runs `work` in the next batch's transaction and resolves with its output once
    /// that transaction has committed.
    pub fn transact<T: Send + 'static>(
        &self,
        work: Transact<T>,
    ) -> impl std::future::Future<Output = Result<T>> {
        let (reply, answer) = oneshot::channel();
        self.enqueue(Request::Transact(Box::new(TypedJob {
            transact: work,
            output: None,
            reply,
        })));
        answered(answer)
    }

    fn enqueue(&self, request: Request) {
        let wake = {
            let mut queue = lock(&self.queue);
            queue.pending.push(request);
            let wake = queue.idle > 0;
            if wake {
                queue.idle -= 1;
            }
            wake
        };
        if wake {
            self.writers.do_send(Drain);
        }
    }
}

async fn answered<T>(answer: oneshot::Receiver<Result<T>>) -> Result<T> {
    answer
        .await
        .unwrap_or_else(|_| Err(Error::internal("writer stopped")))
}

/// The lock is only held to push or take requests, never while running them, so a
/// poisoned lock still guards a consistent queue.
fn lock(queue: &Mutex<Queue>) -> MutexGuard<'_, Queue> {
    queue.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The next batch: everything pending up to the batch limit, or `None` after marking
/// the writer idle when nothing is.
fn take_batch(queue: &Mutex<Queue>) -> Option<Vec<Request>> {
    let mut queue = lock(queue);
    if queue.pending.is_empty() {
        queue.idle += 1;
        return None;
    }
    let mut messages = 0;
    let mut split = queue.pending.len();
    for (i, request) in queue.pending.iter().enumerate() {
        messages += request.message_count();
        if i > 0 && messages > MAX_BATCH_MESSAGES {
            split = i;
            break;
        }
    }
    // Draining keeps the queue's capacity: regrowing it for every batch was visible in
    // the profile (reallocation makes glibc consolidate its free lists).
    Some(queue.pending.drain(..split).collect())
}

/// Wakes an idle writer: there is work in the queue.
#[derive(Message)]
#[rtype(result = "()")]
struct Drain;

/// A writer thread: commits batches from the queue, one at a time, until it is empty.
pub struct DbWriter {
    pool: Pool,
    metrics: Arc<Metrics>,
    webhooks: Arc<Webhooks>,
    queue: Arc<Mutex<Queue>>,
}

impl Actor for DbWriter {
    type Context = SyncContext<Self>;
}

impl Handler<Drain> for DbWriter {
    type Result = ();

    fn handle(&mut self, _: Drain, _: &mut SyncContext<Self>) {
        while let Some(batch) = take_batch(&self.queue) {
            self.commit_batch(batch);
        }
    }
}

impl DbWriter {
    fn commit_batch(&self, mut requests: Vec<Request>) {
        let mut conn = match self.pool.get() {
            Ok(conn) => conn,
            Err(e) => return fail_all(requests, Error::from(e), &self.metrics),
        };
        let started = Instant::now();
        match commit(&mut conn, &mut requests, &self.webhooks) {
            Ok(()) => {
                self.webhooks.committed();
                self.metrics
                    .commit_latency
                    .observe_duration(started.elapsed());
                self.metrics.batch_requests.observe(requests.len() as f64);
                let messages: usize = requests.iter().map(Request::message_count).sum();
                self.metrics.batch_messages.observe(messages as f64);
                requests.into_iter().for_each(Request::succeed);
            }
            Err(error) if requests.len() == 1 => fail_all(requests, error, &self.metrics),
            Err(error) => {
                log::warn!(
                    "batch of {} writes failed ({error}); retrying one by one",
                    requests.len()
                );
                commit_one_by_one(&mut conn, requests, &self.metrics, &self.webhooks);
            }
        }
    }
}

/// Runs every request of the batch in one transaction: jobs first (they may create the
/// sessions the messages belong to), then one INSERT for all messages (and one for their
/// webhook events, when anyone subscribes to them).
fn commit(conn: &mut PgConnection, requests: &mut [Request], webhooks: &Webhooks) -> Result<()> {
    conn.transaction::<_, Error, _>(|conn| {
        let mut specialists: Vec<SpecialistId> = requests
            .iter()
            .filter_map(|request| match request {
                Request::Transact(job) => job.specialist(),
                Request::Append { .. } => None,
            })
            .collect();
        if !specialists.is_empty() {
            specialists.sort_unstable_by_key(|id| id.0);
            specialists.dedup();
            db::specialists::lock(conn, &specialists)?;
        }
        let mut messages = Vec::new();
        let mut epochs = db::messages::Epochs::default();
        for request in requests.iter_mut() {
            match request {
                Request::Transact(job) => job.run(conn)?,
                Request::Append {
                    messages: rows,
                    epoch,
                    ..
                } => {
                    if let Some(first) = rows.first() {
                        epochs.add(first.session_id, *epoch);
                    }
                    messages.extend(rows.iter().cloned());
                }
            }
        }
        db::messages::insert_batch(conn, &messages, &epochs)?;
        outbox::messages_created(conn, webhooks, &messages)?;
        Ok(())
    })
}

fn commit_one_by_one(
    conn: &mut PgConnection,
    requests: Vec<Request>,
    metrics: &Metrics,
    webhooks: &Webhooks,
) {
    for mut request in requests {
        let started = Instant::now();
        match commit(conn, std::slice::from_mut(&mut request), webhooks) {
            Ok(()) => {
                webhooks.committed();
                metrics.commit_latency.observe_duration(started.elapsed());
                metrics.batch_requests.observe(1.0);
                request.succeed();
            }
            Err(error) => {
                metrics
                    .commit_failures
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                request.fail(error);
            }
        }
    }
}

fn fail_all(requests: Vec<Request>, error: Error, metrics: &Metrics) {
    metrics
        .commit_failures
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    for request in requests {
        request.fail(error.clone());
    }
}
