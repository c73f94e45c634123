//! Sessions served by another node (SPEC section 13). A message for a session whose
//! actor is not running here goes to the node that owns the session in Postgres, over
//! NATS request/reply; its answer comes back to the reply waiting here. A session that
//! nobody owns, or whose owner's lease has run out, is claimed here and its actor
//! restored as after a restart. A node that cannot be reached is asked again until its
//! lease runs out, so a dead node's sessions are served again within the lease.
//!
//! The owner a session was last found at is remembered, so a conversation between
//! nodes reads Postgres once, not at every message; an owner that moved, died or
//! stopped answering is forgotten and looked up again.

use std::time::{Duration, Instant};

use actix::Addr;
use bytes::Bytes;
use tokio::sync::oneshot;

use super::actor::{ChatSession, Sessions};
use crate::actors::messages::session::{
    Abandon, Assign, Command, DeliverScheduled, Forward, FromSession, Outcome, ParticipantPresence,
    PresentOffer, ReturnToQueue, Routed, SetArchived, SetTags, ToSession, Wants,
};
use crate::actors::reply::Reply;
use crate::cluster::Unanswered;
use crate::db::ownership::{self, Owner};
use crate::domain::SessionId;
use crate::error::{Error, Result};

/// How long a message waits for its session to be served somewhere, past the lease.
const PATIENCE: Duration = Duration::from_secs(5);

/// Past its lease, how long a node's answer is still waited for: a commit under load.
const ANSWER_MARGIN: Duration = Duration::from_millis(500);

/// Remote owners remembered at most; past it they are all looked up again.
const OWNERS_REMEMBERED: usize = 100_000;

impl Sessions {
    /// Sends `msg` to the node serving session `id`, or serves the session here.
    pub(super) fn route<M: Routed>(&self, id: SessionId, msg: M) {
        let (message, outcome) = msg.split();
        let sessions = self.clone();
        actix::spawn(async move {
            let forward = Forward {
                session: id,
                origin: outcome.origin(),
                wants: outcome.wants(),
                message,
            };
            match sessions.forward(&forward).await {
                Some(answer) => outcome.settle(id, answer),
                None if sessions.draining() => {
                    let stopping = Error::internal("this server is stopping, please reconnect");
                    outcome.settle(id, FromSession::failed(stopping));
                }
                None => sessions.deliver_here(id, forward.message, outcome),
            }
        });
    }

    /// The owner's answer, or `None` when the session is to be served here.
    async fn forward(&self, forward: &Forward) -> Option<FromSession> {
        let id = forward.session;
        let cluster = &self.context().cluster;
        let payload = Bytes::from(serde_json::to_vec(forward).expect("a forward serializes"));
        let deadline = Instant::now() + cluster.lease + PATIENCE;
        loop {
            let (node, lease_left) = match self.owner(id).await {
                Ok(None) => return None,
                Ok(Some(owner)) => owner,
                Err(error) => return Some(FromSession::failed(error)),
            };
            // An owner that does not answer before its lease runs out (paused, cut
            // off) is not waited for any longer: then the session can be claimed.
            let patience = lease_left + ANSWER_MARGIN;
            let subject = session_subject(&node);
            let asked = cluster.request(subject, payload.clone(), patience).await;
            match asked.map(|bytes| serde_json::from_slice::<FromSession>(&bytes)) {
                Ok(Ok(FromSession::Moved)) | Err(Unanswered::NoResponder | Unanswered::Failed) => {
                    self.owners().remove(&id);
                }
                Ok(Ok(answer)) => return Some(answer),
                Ok(Err(e)) => return Some(FromSession::failed(Error::internal(e))),
            }
            if Instant::now() > deadline {
                let unavailable = Error::internal(format!("session {id}: no node serves it"));
                return Some(FromSession::failed(unavailable));
            }
            actix_web::rt::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The node other than this one that serves session `id`, remembered or looked up,
    /// with how long its lease may still run; `None` when this node may serve it.
    async fn owner(&self, id: SessionId) -> Result<Option<(String, Duration)>> {
        if let Some(node) = self.owners().get(&id) {
            // A remembered owner has renewed since: its lease runs a whole lease at most.
            return Ok(Some((node.clone(), self.context().cluster.lease)));
        }
        let found = self.owner_in_db(id).await?;
        if let Some((node, _)) = &found {
            if self.owners().len() >= OWNERS_REMEMBERED {
                self.owners().clear();
            }
            self.owners().insert(id, node.clone());
        }
        Ok(found)
    }

    /// What Postgres says now: the live node other than this one that serves session
    /// `id`, with how long its lease still runs.
    async fn owner_in_db(&self, id: SessionId) -> Result<Option<(String, Duration)>> {
        let owner = self
            .context()
            .db
            .run(move |conn| ownership::owner(conn, id))
            .await?;
        let me = self.context().cluster.node_id.as_str();
        Ok(match owner {
            Owner::Node { node, lease_left } if node != me => {
                Some((node, Duration::from_secs_f64(lease_left)))
            }
            Owner::Missing | Owner::Free | Owner::Node { .. } => None,
        })
    }

    /// Hands a message to the session's actor here, started (and claiming the session)
    /// if it is not running.
    fn deliver_here(&self, id: SessionId, message: ToSession, outcome: Outcome) {
        self.owners().remove(&id);
        deliver(&self.running(id, None), message, outcome);
    }

    /// Serves what other nodes forward to this node's sessions.
    pub async fn serve(&self) -> crate::error::Result<()> {
        let cluster = self.context().cluster.clone();
        let subject = session_subject(cluster.node_id.as_str());
        let sessions = self.clone();
        cluster
            .serve(subject, move |payload| {
                let sessions = sessions.clone();
                async move {
                    let answer = sessions.serve_one(&payload).await;
                    Bytes::from(serde_json::to_vec(&answer).expect("an answer serializes"))
                }
            })
            .await
            .map(drop)
    }

    async fn serve_one(&self, payload: &[u8]) -> FromSession {
        let forward: Forward = match serde_json::from_slice(payload) {
            Ok(forward) => forward,
            Err(e) => return FromSession::failed(Error::internal(e)),
        };
        let id = forward.session;
        if self.draining()
            || !self.is_running(id) && !matches!(self.owner_in_db(id).await, Ok(None))
        {
            return FromSession::Moved;
        }
        let (outcome, answered) = outcome_here(forward.wants, forward.origin);
        self.deliver_here(id, forward.message, outcome);
        match answered.await {
            FromSession::Answered(answer)
                if answer.as_ref().as_ref().is_err_and(Error::is_moved) =>
            {
                FromSession::Moved
            }
            answer => answer,
        }
    }
}

/// The subject on which node `node` serves its sessions.
fn session_subject(node: &str) -> String {
    format!("sb.node.{node}.session")
}

/// An outcome for the serving node's actor, and the answer it turns into.
fn outcome_here(
    wants: Wants,
    origin: Option<u64>,
) -> (Outcome, impl std::future::Future<Output = FromSession>) {
    let (reply, answered) = Reply::forwarded(origin);
    let (done, settled) = oneshot::channel();
    let outcome = match wants {
        Wants::Nothing => Outcome::Nothing,
        Wants::Answer => Outcome::Reply(reply),
        Wants::Done => Outcome::Done(done),
    };
    let answer = async move {
        match wants {
            Wants::Nothing => FromSession::Delivered,
            // No answer at all (typing, read) is an answer too.
            Wants::Answer => answered.await.map_or(FromSession::Delivered, |answer| {
                FromSession::Answered(Box::new(answer))
            }),
            Wants::Done => FromSession::Done(settled.await.unwrap_or(false)),
        }
    };
    (outcome, answer)
}

impl Outcome {
    fn origin(&self) -> Option<u64> {
        match self {
            Outcome::Reply(reply) => reply.connection_id(),
            Outcome::Nothing | Outcome::Done(_) => None,
        }
    }

    fn wants(&self) -> Wants {
        match self {
            Outcome::Nothing => Wants::Nothing,
            Outcome::Reply(_) => Wants::Answer,
            Outcome::Done(_) => Wants::Done,
        }
    }

    /// Gives another node's answer to whoever waits here.
    fn settle(self, id: SessionId, answer: FromSession) {
        match (self, answer) {
            (Outcome::Reply(reply), FromSession::Answered(outcome)) => reply.settle(id, *outcome),
            (Outcome::Done(done), FromSession::Done(settled)) => {
                let _ = done.send(settled);
            }
            (Outcome::Done(done), _) => {
                let _ = done.send(false);
            }
            _ => {}
        }
    }
}

/// Turns a message back into the actor's own, with its outcome, and sends it.
fn deliver(session: &Addr<ChatSession>, message: ToSession, outcome: Outcome) {
    match (message, outcome) {
        (
            ToSession::Command {
                caller,
                name,
                command,
            },
            Outcome::Reply(reply),
        ) => session.do_send(Command {
            caller,
            name,
            reply,
            command,
        }),
        (ToSession::SetTags { caller, tags }, Outcome::Reply(reply)) => session.do_send(SetTags {
            caller,
            tags,
            reply,
        }),
        (ToSession::SetArchived { caller, archived }, Outcome::Reply(reply)) => {
            session.do_send(SetArchived {
                caller,
                archived,
                reply,
            })
        }
        (
            ToSession::Presence {
                participant,
                online,
            },
            _,
        ) => session.do_send(ParticipantPresence {
            participant,
            online,
        }),
        (
            ToSession::PresentOffer {
                offer_id,
                specialist,
                expires_at,
            },
            _,
        ) => session.do_send(PresentOffer {
            offer_id,
            specialist,
            expires_at,
        }),
        (
            ToSession::Assign {
                specialist,
                specialist_name,
            },
            outcome,
        ) => session.do_send(Assign {
            specialist,
            specialist_name,
            reply: match outcome {
                Outcome::Reply(reply) => Some(reply),
                Outcome::Nothing | Outcome::Done(_) => None,
            },
        }),
        (ToSession::Abandon, _) => session.do_send(Abandon),
        (ToSession::ReturnToQueue { specialist }, _) => {
            session.do_send(ReturnToQueue { specialist })
        }
        (ToSession::DeliverScheduled { id }, Outcome::Done(done)) => {
            session.do_send(DeliverScheduled { id, done })
        }
        // A request without the reply it was split from: `Routed::split` makes none.
        (ToSession::Command { .. } | ToSession::SetTags { .. }, _)
        | (ToSession::SetArchived { .. } | ToSession::DeliverScheduled { .. }, _) => {}
    }
}
