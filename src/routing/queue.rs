//! The waiting line: sessions ordered by priority (urgent first), then by the time they
//! were first queued. A transfer keeps the original queue time, so a re-queued chat does
//! not go to the back of its priority band.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use chrono::{DateTime, Utc};

use crate::domain::{Priority, SessionId, SpecialistId, VisitorId};

/// A session in the queue with what routing needs to know about it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Waiting {
    pub id: SessionId,
    pub visitor_id: VisitorId,
    pub priority: Priority,
    pub queued_at: DateTime<Utc>,
    pub skills: Vec<String>,
    pub language: Option<String>,
    /// Specialists who declined it (or let an offer expire): never offered again.
    pub declined: HashSet<SpecialistId>,
    /// A transfer to a named specialist: only they may be offered it.
    pub target: Option<SpecialistId>,
    /// The specialist holding the pending offer, if any.
    pub offered_to: Option<SpecialistId>,
    /// When this process started waiting for it; the abandonment clock starts here at
    /// the latest, since a visitor cannot have been seen before the process started.
    /// In a cluster, the last time the visitor was seen connected on any node.
    #[serde(skip, default = "Instant::now")]
    pub enqueued: Instant,
}

impl Waiting {
    pub fn new(
        id: SessionId,
        visitor_id: VisitorId,
        priority: Priority,
        queued_at: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            visitor_id,
            priority,
            queued_at,
            skills: Vec::new(),
            language: None,
            declined: HashSet::new(),
            target: None,
            offered_to: None,
            enqueued: Instant::now(),
        }
    }

    /// What routing needs to know about a session row.
    pub fn of(row: &crate::db::sessions::ChatSession) -> Waiting {
        let mut waiting = Waiting::new(row.id, row.visitor_id, row.priority, row.queued_at);
        waiting.skills = row.skills.clone();
        waiting.language = row.language.clone();
        waiting
    }

    fn key(&self) -> QueueKey {
        (Reverse(self.priority.rank()), self.queued_at, self.id)
    }
}

type QueueKey = (Reverse<u8>, DateTime<Utc>, SessionId);

#[derive(Debug, Default)]
pub struct Queue {
    order: BTreeMap<QueueKey, SessionId>,
    sessions: HashMap<SessionId, Waiting>,
}

impl Queue {
    /// Adds a session, or replaces it (with its new priority) if it is already queued.
    pub fn push(&mut self, session: Waiting) {
        self.remove(session.id);
        self.order.insert(session.key(), session.id);
        self.sessions.insert(session.id, session);
    }

    pub fn remove(&mut self, id: SessionId) -> Option<Waiting> {
        let session = self.sessions.remove(&id)?;
        self.order.remove(&session.key());
        Some(session)
    }

    pub fn get(&self, id: SessionId) -> Option<&Waiting> {
        self.sessions.get(&id)
    }

    pub fn get_mut(&mut self, id: SessionId) -> Option<&mut Waiting> {
        self.sessions.get_mut(&id)
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    pub fn in_order(&self) -> impl Iterator<Item = &Waiting> {
        self.order.values().map(|id| &self.sessions[id])
    }

    /// 1-based position, 1 being next.
    pub fn position(&self, id: SessionId) -> Option<usize> {
        let session = self.sessions.get(&id)?;
        Some(self.order.range(..session.key()).count() + 1)
    }
}
