//! Group commit. Every chat write goes through [`Persistence`], which merges the requests
//! that arrive while earlier transactions are committing into the next transaction, so a
//! busy server commits many writes per round trip and throughput grows with load. Each
//! requester is answered only after the transaction holding its write has committed.
//!
//! [`Persistence`] is an ordinary async actor that owns the queue; the transactions run
//! on [`DbWriter`] threads behind a `SyncArbiter`, at most one batch per writer at a time.
//! If a merged transaction fails, its requests are retried one by one, so one bad request
//! never fails the writes it happened to share a transaction with.

use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;
use diesel::pg::PgConnection;
use diesel::Connection;
use tokio::sync::oneshot;

use crate::db::{self, messages::Message as MessageRow, Pool};
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::webhooks::{outbox, Webhooks};

/// Most messages one transaction inserts; beyond it the next batch takes the rest.
const MAX_BATCH_MESSAGES: usize = 4096;

/// Appends messages and resolves once they are committed. The hot path: the writer
/// answers the caller's own channel directly, without the actor's reply round trip.
pub fn append(
    persistence: &Addr<Persistence>,
    messages: Vec<MessageRow>,
) -> impl std::future::Future<Output = Result<()>> {
    let (reply, answer) = oneshot::channel();
    persistence.do_send(Enqueue(Request::Append { messages, reply }));
    async move {
        answer
            .await
            .unwrap_or_else(|_| Err(Error::internal("writer stopped")))
    }
}

/// A request whose requester already waits on its own channel.
#[derive(Message)]
#[rtype(result = "()")]
struct Enqueue(Request);

/// Any other write, run inside the batch's transaction. The work may run twice (once
/// merged, once alone after a failed batch), so it must only touch the database.
pub struct Transact<T> {
    work: Box<Work<T>>,
}

type Work<T> = dyn Fn(&mut PgConnection) -> Result<T> + Send;

impl<T> Transact<T> {
    pub fn new(work: impl Fn(&mut PgConnection) -> Result<T> + Send + 'static) -> Self {
        Self {
            work: Box::new(work),
        }
    }
}

impl<T: Send + 'static> Message for Transact<T> {
    type Result = Result<T>;
}

/// A queued write with the channel its requester waits on.
enum Request {
    Append {
        messages: Vec<MessageRow>,
        reply: oneshot::Sender<Result<()>>,
    },
    Transact(Box<dyn Job>),
}

/// A type-erased [`Transact`]: runs its work and keeps the output until the commit.
trait Job: Send {
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

/// The queue in front of the writer threads.
pub struct Persistence {
    writers: Addr<DbWriter>,
    max_in_flight: usize,
    in_flight: usize,
    pending: Vec<Request>,
}

impl Persistence {
    pub fn start(
        pool: Pool,
        writers: usize,
        metrics: Arc<Metrics>,
        webhooks: Arc<Webhooks>,
    ) -> Addr<Persistence> {
        let writers = writers.max(1);
        let writer_addr = SyncArbiter::start(writers, move || DbWriter {
            pool: pool.clone(),
            metrics: metrics.clone(),
            webhooks: webhooks.clone(),
        });
        Persistence {
            writers: writer_addr,
            max_in_flight: writers,
            in_flight: 0,
            pending: Vec::new(),
        }
        .start()
    }

    fn enqueue(&mut self, request: Request, ctx: &mut Context<Self>) {
        self.pending.push(request);
        self.dispatch(ctx);
    }

    /// Hands everything pending (up to the batch limit) to a free writer.
    fn dispatch(&mut self, ctx: &mut Context<Self>) {
        while self.in_flight < self.max_in_flight && !self.pending.is_empty() {
            let batch = self.take_batch();
            self.in_flight += 1;
            self.writers
                .send(CommitBatch(batch))
                .into_actor(self)
                .then(|_, this, ctx| {
                    this.in_flight -= 1;
                    this.dispatch(ctx);
                    fut::ready(())
                })
                .spawn(ctx);
        }
    }

    fn take_batch(&mut self) -> Vec<Request> {
        let mut messages = 0;
        let mut split = self.pending.len();
        for (i, request) in self.pending.iter().enumerate() {
            messages += request.message_count();
            if i > 0 && messages > MAX_BATCH_MESSAGES {
                split = i;
                break;
            }
        }
        let rest = self.pending.split_off(split);
        std::mem::replace(&mut self.pending, rest)
    }
}

impl Actor for Persistence {
    type Context = Context<Self>;
}

impl Handler<Enqueue> for Persistence {
    type Result = ();

    fn handle(&mut self, Enqueue(request): Enqueue, ctx: &mut Context<Self>) {
        self.enqueue(request, ctx);
    }
}

impl<T: Send + 'static> Handler<Transact<T>> for Persistence {
    type Result = ResponseFuture<Result<T>>;

    fn handle(&mut self, msg: Transact<T>, ctx: &mut Context<Self>) -> Self::Result {
        let (reply, answer) = oneshot::channel();
        let job = TypedJob {
            transact: msg,
            output: None,
            reply,
        };
        self.enqueue(Request::Transact(Box::new(job)), ctx);
        Box::pin(async move {
            answer
                .await
                .unwrap_or_else(|_| Err(Error::internal("writer stopped")))
        })
    }
}

/// One batch for a writer thread.
#[derive(Message)]
#[rtype(result = "()")]
struct CommitBatch(Vec<Request>);

/// A writer thread: commits the batches it is handed, one at a time.
pub struct DbWriter {
    pool: Pool,
    metrics: Arc<Metrics>,
    webhooks: Arc<Webhooks>,
}

impl Actor for DbWriter {
    type Context = SyncContext<Self>;
}

impl Handler<CommitBatch> for DbWriter {
    type Result = ();

    fn handle(&mut self, batch: CommitBatch, _: &mut SyncContext<Self>) {
        let mut requests = batch.0;
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
        let mut messages = Vec::new();
        for request in requests.iter_mut() {
            match request {
                Request::Transact(job) => job.run(conn)?,
                Request::Append { messages: rows, .. } => messages.extend(rows.iter().cloned()),
            }
        }
        db::messages::insert_batch(conn, &messages)?;
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
