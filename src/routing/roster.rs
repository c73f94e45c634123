//! The specialists the dispatcher can route to: their availability, skills and load.

use std::collections::{HashMap, HashSet};

use crate::domain::{SessionId, SpecialistId};
pub use crate::protocol::client::SpecialistStatus as Status;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SpecialistState {
    pub id: SpecialistId,
    pub name: String,
    pub status: Status,
    pub skills: Vec<String>,
    pub languages: Vec<String>,
    pub max_concurrent_chats: usize,
    /// Active sessions assigned to them.
    pub open: HashSet<SessionId>,
    pub pending_offers: usize,
    /// A tick of the roster's clock at their last assignment; 0 = never.
    pub last_assigned: u64,
}

impl SpecialistState {
    pub fn new(
        id: SpecialistId,
        name: String,
        skills: Vec<String>,
        languages: Vec<String>,
        max: usize,
    ) -> Self {
        Self {
            id,
            name,
            status: Status::Offline,
            skills,
            languages,
            max_concurrent_chats: max,
            open: HashSet::new(),
            pending_offers: 0,
            last_assigned: 0,
        }
    }

    pub fn has_free_slot(&self) -> bool {
        self.open.len() + self.pending_offers < self.max_concurrent_chats
    }
}

#[derive(Debug, Default)]
pub struct Roster {
    specialists: HashMap<SpecialistId, SpecialistState>,
    clock: u64,
}

impl Roster {
    /// Adds a specialist or refreshes their profile, keeping status and load.
    pub fn upsert(&mut self, profile: SpecialistState) {
        match self.specialists.get_mut(&profile.id) {
            Some(existing) => {
                existing.name = profile.name;
                existing.skills = profile.skills;
                existing.languages = profile.languages;
                existing.max_concurrent_chats = profile.max_concurrent_chats;
            }
            None => {
                self.specialists.insert(profile.id, profile);
            }
        }
    }

    pub fn get(&self, id: SpecialistId) -> Option<&SpecialistState> {
        self.specialists.get(&id)
    }

    pub fn get_mut(&mut self, id: SpecialistId) -> Option<&mut SpecialistState> {
        self.specialists.get_mut(&id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &SpecialistState> {
        self.specialists.values()
    }

    pub fn anyone_has_capacity(&self) -> bool {
        self.specialists
            .values()
            .any(|s| s.status == Status::Online && s.has_free_slot())
    }

    pub fn count(&self, status: Status) -> usize {
        self.specialists
            .values()
            .filter(|s| s.status == status)
            .count()
    }

    /// Holds a slot for an offer about to be made.
    pub fn reserve(&mut self, id: SpecialistId) {
        if let Some(s) = self.specialists.get_mut(&id) {
            s.pending_offers += 1;
        }
    }

    pub fn release(&mut self, id: SpecialistId) {
        if let Some(s) = self.specialists.get_mut(&id) {
            s.pending_offers = s.pending_offers.saturating_sub(1);
        }
    }

    /// Records an assignment; the specialist gets a record even if they are not
    /// connected (sessions restored after a restart).
    pub fn assign(&mut self, id: SpecialistId, session: SessionId) {
        self.clock += 1;
        let clock = self.clock;
        let state = self
            .specialists
            .entry(id)
            .or_insert_with(|| SpecialistState::new(id, String::new(), Vec::new(), Vec::new(), 0));
        state.open.insert(session);
        state.last_assigned = clock;
    }

    /// Frees the slot `session` held; returns whether it was held.
    pub fn unassign(&mut self, id: SpecialistId, session: SessionId) -> bool {
        self.specialists
            .get_mut(&id)
            .is_some_and(|s| s.open.remove(&session))
    }
}
