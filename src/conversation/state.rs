//! One conversation as its session actor holds it: the session's view (row, visitor,
//! specialist's name, tags), the recent messages offers and resends are served from, the
//! resend keys, the read cursors, and the specialists it was ever assigned to. It changes
//! only through [`Conversation::committed`], after the database has taken the change.

use std::collections::{HashMap, VecDeque};

use uuid::Uuid;

use crate::db::sessions::ChatSession;
use crate::db::sessions::SessionView;
use crate::domain::{ParticipantType, Peer, SessionId, SpecialistId};
use crate::protocol::objects::{Audience, Message, Participant, Session};
use crate::routing::Waiting;

/// Messages kept in memory for offers and quick resends.
pub const RECENT: usize = 200;
/// Resend keys kept in memory; an older key is looked up in the database.
pub const REMEMBERED_KEYS: usize = 10_000;

pub struct Conversation {
    pub(super) view: SessionView,
    /// `(sender, client_msg_id) → seq` of every message sent with a client id. Looked
    /// up for every message, hence foldhash (randomly seeded, like std's SipHash).
    pub(super) sent: foldhash::HashMap<(Option<Uuid>, String), i32>,
    /// The keys of `sent`, oldest first, so the oldest go when there are too many.
    pub(super) sent_order: VecDeque<(Option<Uuid>, String)>,
    /// Whether `sent` holds every key the session has stored.
    pub(super) keys_complete: bool,
    pub(super) recent: VecDeque<Message>,
    pub(super) read: HashMap<(ParticipantType, Uuid), i32>,
    /// Specialists the session is or was assigned to: they may use its workspace.
    pub(super) took_part: Vec<SpecialistId>,
}

/// What a conversation is restored from when its actor starts.
pub struct Restored {
    pub view: SessionView,
    /// The latest [`REMEMBERED_KEYS`] resend keys, newest first.
    pub keys: Vec<(Option<Uuid>, String, i32)>,
    /// The latest messages, oldest first.
    pub recent: Vec<Message>,
    pub read: Vec<(ParticipantType, Uuid, i32)>,
    pub took_part: Vec<SpecialistId>,
}

/// The (at most two) peers a frame goes to: the visitor, the specialist, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Peers([Option<Peer>; 2]);

impl Peers {
    pub fn iter(&self) -> impl Iterator<Item = Peer> + '_ {
        self.0.iter().flatten().copied()
    }
}

impl Conversation {
    /// A conversation just created: nothing sent, read or assigned yet.
    pub fn new(view: SessionView) -> Conversation {
        Conversation {
            took_part: view.row.specialist_id.into_iter().collect(),
            view,
            sent: foldhash::HashMap::default(),
            sent_order: VecDeque::new(),
            keys_complete: true,
            recent: VecDeque::new(),
            read: HashMap::new(),
        }
    }

    pub fn restore(restored: Restored) -> Conversation {
        let keys_complete = restored.keys.len() < REMEMBERED_KEYS;
        let sent_order = restored
            .keys
            .iter()
            .rev()
            .map(|(sender, key, _)| (*sender, key.clone()))
            .collect();
        Conversation {
            view: restored.view,
            sent: restored
                .keys
                .into_iter()
                .map(|(sender, key, seq)| ((sender, key), seq))
                .collect(),
            sent_order,
            keys_complete,
            recent: restored.recent.into(),
            read: restored
                .read
                .into_iter()
                .map(|(kind, id, seq)| ((kind, id), seq))
                .collect(),
            took_part: restored.took_part,
        }
    }

    pub fn id(&self) -> SessionId {
        self.view.row.id
    }

    pub fn row(&self) -> &ChatSession {
        &self.view.row
    }

    pub fn session_for(&self, audience: Audience) -> Session {
        Session::for_audience(&self.view, audience)
    }

    /// What routing needs to know to queue the session.
    pub fn waiting(&self) -> Waiting {
        Waiting::of(&self.view.row)
    }

    pub fn took_part(&self, specialist: SpecialistId) -> bool {
        self.took_part.contains(&specialist)
    }

    pub(super) fn next_seq(&self) -> i32 {
        self.view.row.last_seq + 1
    }

    pub(super) fn remember(&mut self, message: Message) {
        if let Some(key) = message.client_msg_id.clone() {
            let key = (message.sender.id, key);
            self.sent.insert(key.clone(), message.seq);
            self.sent_order.push_back(key);
            while self.sent_order.len() > REMEMBERED_KEYS {
                if let Some(oldest) = self.sent_order.pop_front() {
                    self.sent.remove(&oldest);
                }
                self.keys_complete = false;
            }
        }
        self.recent.push_back(message);
        while self.recent.len() > RECENT {
            self.recent.pop_front();
        }
    }

    pub(super) fn apply_row(&mut self, row: ChatSession) {
        self.view.row = row;
    }

    pub(super) fn visitor(&self) -> Peer {
        Peer::visitor(self.view.row.visitor_id.0)
    }

    pub(super) fn specialist(&self) -> Option<Peer> {
        self.view.row.specialist_id.map(|s| Peer::specialist(s.0))
    }

    /// The visitor and the specialist (when there is one).
    pub(super) fn everyone(&self) -> Peers {
        Peers([Some(self.visitor()), self.specialist()])
    }

    /// The specialist only: notes, tags.
    pub(super) fn staff(&self) -> Peers {
        Peers([self.specialist(), None])
    }

    pub(super) fn visitor_only(&self) -> Peers {
        Peers([Some(self.visitor()), None])
    }

    /// Everyone but `from`: typing, read receipts and presence never go back to their own
    /// author's tabs.
    pub(super) fn others_than(&self, from: &Participant) -> Peers {
        let [visitor, specialist] = self.everyone().0;
        let other =
            |peer: Option<Peer>| peer.filter(|p| Some(p.id) != from.id || p.kind != from.kind);
        Peers([other(visitor), other(specialist)])
    }
}
