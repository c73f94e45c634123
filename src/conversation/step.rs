//! The two halves of a transition. Deciding ([`Step`]) reads the state and never changes
//! it; only [`Conversation::committed`] does, with what the database stored, so a failed
//! commit leaves the conversation exactly as it was (and `seq` gap-free).

use chrono::{DateTime, Utc};

use super::decision::{Change, Effect, QueueNotice, Settlement, Stored};
use super::state::Conversation;
use crate::db::messages::Page;
use crate::domain::{ScheduledId, SessionStatus, SpecialistId};
use crate::error::Error;
use crate::protocol::objects::{Message, Participant, Session};

/// What a request or event comes to.
#[derive(Debug)]
pub enum Step {
    /// Nothing to commit: apply these effects now.
    Done(Vec<Effect>),
    /// Commit the change, then apply what [`Conversation::committed`] returns.
    Commit(Decision),
    /// A transfer to a named specialist: ask the dispatcher whether they can take it,
    /// then commit.
    CheckTarget {
        target: SpecialistId,
        decision: Decision,
    },
    /// A message whose resend key may be one of those no longer in memory: if the
    /// database has a message of `sender` with `key`, answer with it; else commit.
    CheckKey {
        sender: uuid::Uuid,
        key: String,
        decision: Decision,
    },
    /// Answer from the database without changing anything.
    Read(Query),
    /// Typing: the actor keeps the timer that ends it.
    Typing { from: Participant, is_typing: bool },
    /// A reply to a visitor who left a message, carrying its mail: if the visitor has a
    /// connection on some node they read it there, so the mail is dropped; then `step`.
    UnlessVisitorHere(Box<Step>),
}

impl Step {
    pub fn refuse(error: Error) -> Step {
        Step::Done(vec![Effect::Refuse(error)])
    }
}

#[derive(Debug)]
pub struct Decision {
    pub change: Change,
    pub then: Then,
}

/// Reads that answer a request.
#[derive(Debug)]
pub enum Query {
    Page {
        page: Page,
        limit: i64,
        with_notes: bool,
        answer: PageAnswer,
    },
    /// A resend of a message no longer in memory: its original ack, read back.
    Resent { seq: i32 },
}

#[derive(Debug)]
pub enum PageAnswer {
    State(Box<Session>),
    History,
}

/// What a committed change means, kept from the decision to the commit.
#[derive(Debug)]
pub enum Then {
    /// A message stored: acknowledged to its sender (unless nobody asked) and delivered.
    Appended {
        message: Box<Message>,
        acknowledge: bool,
        staff_only: bool,
    },
    Scheduled,
    /// A due scheduled message that is not to be sent after all.
    ScheduledCancelled(ScheduledId),
    Read {
        reader: Participant,
        seq: i32,
    },
    Ended {
        by: Participant,
        reason: Option<String>,
    },
    Rated(i16),
    Requeued {
        messages: Vec<Message>,
        previous: SpecialistId,
        target: Option<SpecialistId>,
        requested: bool,
    },
    Assigned {
        specialist: SpecialistId,
        name: String,
        at: DateTime<Utc>,
        requested: bool,
    },
    Abandoned,
    Tagged(Vec<String>),
    Archived,
    /// A message left (`was_waiting`: instead of waiting in the queue).
    Left {
        message: Box<Message>,
        was_waiting: bool,
    },
    /// A left message taken by a specialist to answer.
    Taken {
        name: String,
    },
    /// The visitor came back to an answered message.
    Returned,
    /// An audit entry only (an offer shown).
    Recorded,
}

impl Then {
    /// Whether someone waits for an answer to this change.
    fn answers(&self) -> bool {
        match self {
            Then::Appended { acknowledge, .. } => *acknowledge,
            Then::Requeued { requested, .. } | Then::Assigned { requested, .. } => *requested,
            Then::Scheduled
            | Then::Read { .. }
            | Then::Ended { .. }
            | Then::Rated(_)
            | Then::Tagged(_)
            | Then::Archived
            | Then::Left { .. }
            | Then::Taken { .. }
            | Then::Returned => true,
            Then::ScheduledCancelled(_) | Then::Abandoned | Then::Recorded => false,
        }
    }
}

impl Conversation {
    /// Takes in a committed change and says what follows from it.
    pub fn committed(&mut self, then: Then, stored: Stored) -> Vec<Effect> {
        match then {
            Then::Appended {
                message,
                acknowledge,
                staff_only,
            } => self.appended(*message, acknowledge, staff_only, stored),
            Then::Scheduled => self.scheduled(stored),
            Then::ScheduledCancelled(_) | Then::Recorded => vec![],
            Then::Read { reader, seq } => self.marked_read(reader, seq),
            Then::Ended { by, reason } => self.ended(by, reason, stored),
            Then::Rated(rating) => self.rated(rating, stored),
            Then::Requeued {
                messages,
                previous,
                target,
                requested,
            } => self.requeued(messages, previous, target, requested, stored),
            Then::Assigned {
                specialist,
                name,
                at,
                requested,
            } => self.assigned(specialist, name, at, requested, stored),
            Then::Abandoned => {
                self.take_row(stored);
                vec![]
            }
            Then::Tagged(tags) => self.tagged(tags),
            Then::Archived => self.archived(stored),
            Then::Left {
                message,
                was_waiting,
            } => self.left(*message, was_waiting, stored),
            Then::Taken { name } => self.taken(name, stored),
            Then::Returned => self.returned(stored),
        }
    }

    /// What follows when the change could not be committed (or a check in it refused):
    /// the state stays as it was.
    pub fn failed(&self, then: &Then, error: Error) -> Vec<Effect> {
        let mut effects = Vec::new();
        if then.answers() {
            effects.push(Effect::Refuse(error));
        }
        if let Then::Assigned { specialist, .. } = then {
            let settlement = if self.row().status == SessionStatus::Waiting {
                Settlement::Failed
            } else {
                Settlement::NoLongerWaiting
            };
            effects.push(Effect::Queue(QueueNotice::Settled {
                specialist: *specialist,
                settlement,
            }));
        }
        effects
    }

    /// The row a change returned, when it touched the row.
    pub(super) fn take_row(&mut self, stored: Stored) {
        if let Some(row) = stored.row {
            self.apply_row(row);
        }
    }
}
