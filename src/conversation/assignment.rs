//! Who answers a conversation: an offer shown to a specialist, the assignment the
//! dispatcher asks for, and the way back to the queue, by a transfer or because the
//! specialist went away. A re-queued session keeps its place in time and is served at
//! priority high or above.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::decision::{Answer, Change, Effect, Event, QueueNotice, Settlement, Stored};
use super::state::Conversation;
use super::step::{Decision, Step, Then};
use crate::db::sessions::SessionChanges;
use crate::domain::{
    MessageKind, ParticipantType, Peer, Priority, Remark, SessionEvent, SessionStatus, SpecialistId,
};
use crate::error::Error;
use crate::protocol::objects::{Audience, Message, Participant, SessionSpecialist};
use crate::protocol::Frame;
use crate::webhooks::WebhookEvent;

const TRANSFERRING: &str = "The conversation is being transferred to another specialist.";
const RECONNECTING: &str =
    "Your specialist was disconnected; connecting you to another specialist.";

/// Why a session goes back to the queue.
#[derive(Debug, Clone)]
pub enum Requeue {
    /// `session.transfer` by its specialist, to a colleague or to anyone with `skills`.
    Transfer {
        by: Participant,
        to: Option<SpecialistId>,
        skills: Option<Vec<String>>,
        note: Option<String>,
    },
    /// This specialist's console has been gone past the grace period.
    SpecialistGone(SpecialistId),
}

impl Conversation {
    /// The `offer` frame for `specialist`, with the conversation so far, and the audit
    /// entry that records it.
    pub fn offer(
        &self,
        offer_id: Uuid,
        specialist: SpecialistId,
        expires_at: DateTime<Utc>,
    ) -> (Peer, Frame, Change) {
        let mut session = self.session_for(Audience::Staff);
        session.transcript = Some(self.recent.iter().cloned().collect());
        let frame = Frame::Offer {
            offer_id,
            session,
            expires_at,
        };
        let mut change = Change::new(self.id());
        change.event = Some(Event {
            kind: SessionEvent::Offered,
            actor: Some((ParticipantType::Specialist, Some(specialist.0))),
            data: serde_json::json!({ "offer_id": offer_id }),
        });
        (Peer::specialist(specialist.0), frame, change)
    }

    /// The dispatcher asks to make `specialist` the session's specialist; `requested`
    /// when a specialist accepted or picked it up and waits for the conversation.
    pub fn assign(
        &self,
        specialist: SpecialistId,
        name: String,
        requested: bool,
        now: DateTime<Utc>,
    ) -> Step {
        if self.row().status != SessionStatus::Waiting {
            let mut effects = Vec::new();
            if requested {
                effects.push(Effect::Refuse(Error::conflict(
                    "the session is no longer waiting",
                )));
            }
            effects.push(Effect::Queue(QueueNotice::Settled {
                specialist,
                settlement: Settlement::NoLongerWaiting,
            }));
            return Step::Done(effects);
        }
        let mut change = Change::new(self.id());
        change.row = Some(SessionChanges {
            status: Some(SessionStatus::Active),
            specialist_id: Some(Some(specialist)),
            assigned_at: Some(Some(now)),
            ..Default::default()
        });
        change.participant = Some(specialist);
        change.event = Some(Event {
            kind: SessionEvent::Assigned,
            actor: Some((ParticipantType::Specialist, Some(specialist.0))),
            data: serde_json::json!({}),
        });
        change.webhook = Some(WebhookEvent::SessionAssigned);
        Step::Commit(Decision {
            change,
            then: Then::Assigned {
                specialist,
                name,
                at: now,
                requested,
            },
        })
    }

    pub(super) fn assigned(
        &mut self,
        specialist: SpecialistId,
        name: String,
        at: DateTime<Utc>,
        requested: bool,
        stored: Stored,
    ) -> Vec<Effect> {
        self.take_row(stored);
        self.view.specialist_name = Some(name.clone());
        if !self.took_part.contains(&specialist) {
            self.took_part.push(specialist);
        }
        let waited_secs = (at - self.row().queued_at).num_milliseconds() as f64 / 1000.0;
        let mut effects = vec![Effect::Queue(QueueNotice::Settled {
            specialist,
            settlement: Settlement::Assigned { waited_secs },
        })];
        // The acceptor gets the whole transcript first, then everyone the assignment.
        if requested {
            effects.push(Effect::AnswerWithTranscript(Audience::Staff));
        }
        effects.push(Effect::Announce {
            frame: Frame::SessionAssigned {
                session_id: self.id(),
                specialist: SessionSpecialist {
                    id: specialist,
                    name,
                },
            },
            to: self.everyone(),
        });
        effects
    }

    /// `session.transfer`: checked here, then (for a named colleague) by the dispatcher,
    /// who knows whether they can take it now.
    pub(super) fn transfer(
        &self,
        by: Participant,
        to: Option<SpecialistId>,
        skills: Option<Vec<String>>,
        note: Option<Remark>,
        now: DateTime<Utc>,
    ) -> Step {
        if to.is_some() && to == self.row().specialist_id {
            return Step::refuse(Error::conflict("the session is already yours"));
        }
        let requeue = Requeue::Transfer {
            by,
            to,
            skills,
            note: note.map(Remark::into_inner),
        };
        let Some(decision) = self.requeue(requeue, now) else {
            return Step::Done(vec![]);
        };
        match to {
            Some(target) => Step::CheckTarget { target, decision },
            None => Step::Commit(decision),
        }
    }

    /// Puts the active session back in the queue with a system message (and the
    /// transfer's note). `None` when it has no specialist to leave, or for a departed
    /// specialist who is no longer the session's.
    pub fn requeue(&self, why: Requeue, now: DateTime<Utc>) -> Option<Decision> {
        let row = self.row();
        let previous = row
            .specialist_id
            .filter(|_| row.status == SessionStatus::Active)?;
        if matches!(why, Requeue::SpecialistGone(gone) if gone != previous) {
            return None;
        }
        let system = Participant {
            kind: ParticipantType::System,
            id: None,
            name: None,
        };
        let (text, actor, target, skills, note) = match why {
            Requeue::Transfer {
                by,
                to,
                skills,
                note,
            } => {
                let actor = Some((by.kind, by.id));
                (TRANSFERRING, actor, to, skills, note.map(|n| (by, n)))
            }
            Requeue::SpecialistGone(_) => (RECONNECTING, None, None, None, None),
        };
        let seq = self.next_seq();
        let mut rows = vec![self.row_at(seq, &system, MessageKind::System, text.to_owned(), now)];
        let mut messages = vec![Message::from_row(&rows[0], None)];
        if let Some((by, note)) = note {
            let row = self.row_at(seq + 1, &by, MessageKind::Note, note, now);
            messages.push(Message::from_row(&row, by.name.clone()));
            rows.push(row);
        }
        let mut change = Change::new(self.id());
        change.messages = rows;
        change.row = Some(SessionChanges {
            status: Some(SessionStatus::Waiting),
            priority: Some(if row.priority.rank() < Priority::High.rank() {
                Priority::High
            } else {
                row.priority
            }),
            skills,
            specialist_id: Some(None),
            ..Default::default()
        });
        change.event = Some(Event {
            kind: SessionEvent::Transferred,
            actor,
            data: serde_json::json!({ "from": previous, "to": target }),
        });
        change.webhook = Some(WebhookEvent::SessionTransferred);
        Some(Decision {
            change,
            then: Then::Requeued {
                messages,
                previous,
                target,
                requested: actor.is_some(),
            },
        })
    }

    pub(super) fn requeued(
        &mut self,
        messages: Vec<Message>,
        previous: SpecialistId,
        target: Option<SpecialistId>,
        requested: bool,
        stored: Stored,
    ) -> Vec<Effect> {
        let mut effects = Vec::new();
        // The previous specialist still sees the hand-over messages, then loses access.
        for message in messages {
            let to = if message.kind == MessageKind::Note {
                self.staff()
            } else {
                self.everyone()
            };
            self.remember(message.clone());
            effects.push(Effect::Deliver {
                frame: Frame::MessageNew { message },
                to,
            });
        }
        self.take_row(stored);
        self.view.specialist_name = None;
        effects.push(Effect::Deliver {
            frame: Frame::SessionTransferred {
                reference: None,
                session_id: self.id(),
            },
            to: self.visitor_only(),
        });
        if requested {
            effects.push(Effect::Answer(Answer::Transferred));
        }
        let mut waiting = self.waiting();
        waiting.target = target;
        waiting.declined.insert(previous);
        effects.push(Effect::Queue(QueueNotice::Enqueue {
            waiting: Box::new(waiting),
            session: Box::new(self.session_for(Audience::Staff)),
            freed: Some(previous),
        }));
        effects
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;

    #[test]
    fn an_offer_carries_the_transcript_and_is_recorded() {
        let conversation = with_messages(2);
        let specialist = SpecialistId::new();
        let (peer, frame, change) = conversation.offer(Uuid::new_v4(), specialist, now());
        assert_eq!(peer, Peer::specialist(specialist.0));
        let Frame::Offer { session, .. } = frame else {
            panic!()
        };
        assert_eq!(session.transcript.map(|t| t.len()), Some(2));
        assert_eq!(change.event.map(|e| e.kind), Some(SessionEvent::Offered));
    }

    #[test]
    fn assigning_a_waiting_session_settles_with_the_wait_and_announces_it() {
        let mut conversation = waiting_conversation();
        let specialist = SpecialistId::new();
        let later = conversation.row().queued_at + chrono::TimeDelta::seconds(30);
        let decision = commit_of(conversation.assign(specialist, "Sam".into(), true, later));
        assert_eq!(decision.change.participant, Some(specialist));
        let mut row = conversation.row().clone();
        row.status = SessionStatus::Active;
        row.specialist_id = Some(specialist);
        let effects = conversation.committed(
            decision.then,
            Stored {
                row: Some(row),
                ..Stored::default()
            },
        );
        assert!(matches!(
            effects[0],
            Effect::Queue(QueueNotice::Settled {
                settlement: Settlement::Assigned { waited_secs },
                ..
            }) if waited_secs == 30.0
        ));
        assert!(matches!(effects[1], Effect::AnswerWithTranscript(_)));
        assert!(matches!(effects[2], Effect::Announce { .. }));
        assert!(conversation.took_part(specialist));
    }

    #[test]
    fn a_session_no_longer_waiting_refuses_the_assignment() {
        let conversation = active();
        let Step::Done(effects) = conversation.assign(SpecialistId::new(), "x".into(), true, now())
        else {
            panic!()
        };
        assert!(matches!(effects[0], Effect::Refuse(_)));
        assert!(matches!(
            effects[1],
            Effect::Queue(QueueNotice::Settled {
                settlement: Settlement::NoLongerWaiting,
                ..
            })
        ));
    }

    #[test]
    fn a_failed_assignment_commit_is_retried_by_the_queue() {
        let conversation = waiting_conversation();
        let decision =
            commit_of(conversation.assign(SpecialistId::new(), "x".into(), false, now()));
        let effects = conversation.failed(&decision.then, Error::internal("away"));
        assert!(matches!(
            effects[..],
            [Effect::Queue(QueueNotice::Settled {
                settlement: Settlement::Failed,
                ..
            })]
        ));
    }

    #[test]
    fn a_transfer_requeues_at_high_priority_with_a_system_message_and_a_note() {
        let mut conversation = active();
        let previous = conversation.row().specialist_id.unwrap();
        let specialist = specialist_of(&conversation);
        let colleague = SpecialistId::new();
        let command = SessionCommand::Transfer {
            to: Some(colleague),
            skills: None,
            note: Remark::parse("note", Some("VIP"), 4000).unwrap(),
        };
        let step = conversation.handle(&specialist, Some("Sam".into()), command, now());
        let Step::CheckTarget { target, decision } = step else {
            panic!("{step:?}")
        };
        assert_eq!(target, colleague);
        let kinds: Vec<_> = decision.change.messages.iter().map(|m| m.kind).collect();
        assert_eq!(kinds, vec![MessageKind::System, MessageKind::Note]);
        let changes = decision.change.row.clone().unwrap();
        assert_eq!(changes.priority, Some(Priority::High));
        let mut row = conversation.row().clone();
        row.status = SessionStatus::Waiting;
        row.specialist_id = None;
        let effects = conversation.committed(
            decision.then,
            Stored {
                row: Some(row),
                ..Stored::default()
            },
        );
        let Effect::Deliver { to, .. } = &effects[1] else {
            panic!("{effects:?}")
        };
        assert_eq!(
            to.iter().collect::<Vec<_>>(),
            vec![Peer::specialist(previous.0)],
            "the note reaches the previous specialist only"
        );
        let Some(Effect::Queue(QueueNotice::Enqueue { waiting, freed, .. })) = effects.last()
        else {
            panic!("{effects:?}")
        };
        assert_eq!(waiting.target, Some(colleague));
        assert!(waiting.declined.contains(&previous));
        assert_eq!(*freed, Some(previous));
    }

    #[test]
    fn a_transfer_to_oneself_or_by_a_visitor_is_refused() {
        let conversation = active();
        let specialist = specialist_of(&conversation);
        let to_self = SessionCommand::Transfer {
            to: specialist.staff(),
            skills: None,
            note: None,
        };
        assert_refused(
            conversation.handle(&specialist, None, to_self.clone(), now()),
            ErrorCode::Conflict,
        );
        let visitor = visitor_of(&conversation);
        assert_refused(
            conversation.handle(&visitor, None, to_self, now()),
            ErrorCode::Forbidden,
        );
    }

    #[test]
    fn a_departed_specialist_returns_only_their_own_active_sessions() {
        let conversation = active();
        let specialist = conversation.row().specialist_id.unwrap();
        assert!(conversation
            .requeue(Requeue::SpecialistGone(SpecialistId::new()), now())
            .is_none());
        let decision = conversation
            .requeue(Requeue::SpecialistGone(specialist), now())
            .expect("active");
        assert_eq!(decision.change.messages.len(), 1);
        assert!(matches!(
            decision.then,
            Then::Requeued {
                requested: false,
                ..
            }
        ));
        assert!(waiting_conversation()
            .requeue(Requeue::SpecialistGone(specialist), now())
            .is_none());
    }
}
