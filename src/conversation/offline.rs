//! When nobody can answer (SPEC section 14): a visitor leaves a message instead of
//! waiting, a specialist takes it from "Needs reply" and answers, and the answer is
//! mailed while the visitor is away. When the visitor comes back to a reply, the
//! conversation goes on live.

use chrono::{DateTime, Utc};

use super::decision::{Answer, Change, Effect, Event, QueueNotice, Stored};
use super::left_message::LeftMessage;
use super::state::Conversation;
use super::step::{Decision, Step, Then};
use crate::db::{self, sessions::SessionChanges};
use crate::domain::inputs::Email;
use crate::domain::{MessageKind, ParticipantType, SessionEvent, SessionStatus};
use crate::error::Error;
use crate::mail::{compose, Mail};
use crate::protocol::objects::{Audience, Message, Participant, SessionSpecialist};
use crate::protocol::Frame;
use crate::webhooks::WebhookEvent;

impl Conversation {
    /// `message.leave` on the visitor's own session: a waiting one leaves the queue and
    /// holds the message; a message already left takes one more. A visitor talking to a
    /// specialist just sends.
    pub(super) fn leave(&self, sender: Participant, left: LeftMessage, now: DateTime<Utc>) -> Step {
        let status = self.row().status;
        let was_waiting = match status {
            SessionStatus::Waiting => true,
            SessionStatus::Offline => false,
            SessionStatus::Active => {
                return Step::refuse(Error::conflict(
                    "a specialist is with you: send your message in the chat",
                ))
            }
            SessionStatus::Ended | SessionStatus::Abandoned => {
                return Step::refuse(Error::conflict("the session has ended"))
            }
        };
        let LeftMessage { contact, body } = left;
        let mut change = Change::new(self.id());
        change.row = Some(SessionChanges {
            status: Some(SessionStatus::Offline),
            callback_requested: Some(contact.callback || self.row().callback_requested),
            ..Default::default()
        });
        if was_waiting {
            if let Some(row) = change.row.as_mut() {
                row.left_message_at = Some(Some(now));
            }
            change.event = Some(Event {
                kind: SessionEvent::LeftMessage,
                actor: Some((ParticipantType::Visitor, sender.id)),
                data: serde_json::json!({}),
            });
            change.webhook = Some(WebhookEvent::SessionOffline);
        }
        change.contact = Some((self.row().visitor_id, contact));
        let row = self.new_row(&sender, MessageKind::Text, body.into_inner(), now);
        let message = Message::from_row(&row, sender.name);
        change.messages.push(row);
        Step::Commit(Decision {
            change,
            then: Then::Left {
                message: Box::new(message),
                was_waiting,
            },
        })
    }

    pub(super) fn left(
        &mut self,
        message: Message,
        was_waiting: bool,
        stored: Stored,
    ) -> Vec<Effect> {
        if let Some(visitor) = stored.visitor.clone() {
            self.view.visitor = visitor;
        }
        self.take_row(stored);
        self.remember(message.clone());
        let mut effects = vec![
            Effect::Answer(Answer::Offline(self.session_for(Audience::Visitor))),
            Effect::Deliver {
                frame: Frame::MessageNew { message },
                to: self.everyone(),
            },
        ];
        if was_waiting {
            effects.push(Effect::Queue(QueueNotice::Closed {
                specialist: None,
                handled_secs: None,
            }));
        }
        effects
    }

    /// `session.pickup` of a message nobody took yet: it becomes the specialist's to
    /// answer, outside the queue and beyond their chat slots.
    pub(super) fn take(&self, taker: Participant, now: DateTime<Utc>) -> Step {
        let row = self.row();
        let Some(specialist) = taker.id.map(crate::domain::SpecialistId) else {
            return Step::refuse(Error::forbidden("only specialists take messages"));
        };
        if row.status != SessionStatus::Offline {
            return Step::refuse(Error::conflict("the session is not waiting"));
        }
        match row.specialist_id {
            Some(taken) if taken == specialist => {
                return Step::refuse(Error::conflict("you have taken this message already"))
            }
            Some(_) => return Step::refuse(Error::conflict("someone else took this message")),
            None => {}
        }
        let mut change = Change::new(self.id());
        change.row = Some(SessionChanges {
            specialist_id: Some(Some(specialist)),
            assigned_at: Some(Some(now)),
            ..Default::default()
        });
        change.participant = Some(specialist);
        change.beyond_capacity = true;
        change.event = Some(Event {
            kind: SessionEvent::Assigned,
            actor: Some((ParticipantType::Specialist, Some(specialist.0))),
            data: serde_json::json!({ "left_message": true }),
        });
        change.webhook = Some(WebhookEvent::SessionAssigned);
        Step::Commit(Decision {
            change,
            then: Then::Taken {
                name: taker.name.unwrap_or_default(),
            },
        })
    }

    pub(super) fn taken(&mut self, name: String, stored: Stored) -> Vec<Effect> {
        self.take_row(stored);
        let Some(specialist) = self.row().specialist_id else {
            return vec![];
        };
        self.view.specialist_name = Some(name.clone());
        if !self.took_part.contains(&specialist) {
            self.took_part.push(specialist);
        }
        vec![
            Effect::AnswerWithTranscript(Audience::Staff),
            Effect::Announce {
                frame: Frame::SessionAssigned {
                    session_id: self.id(),
                    specialist: SessionSpecialist {
                        id: specialist,
                        name,
                    },
                },
                to: self.everyone(),
            },
        ]
    }

    /// The visitor is back at a message someone answered: the conversation goes on live.
    /// `None` when there is nothing to come back to (nobody answered yet, or it is not a
    /// left message).
    pub(super) fn come_back(&self, visitor: &Participant) -> Option<Change> {
        let row = self.row();
        if row.status != SessionStatus::Offline || row.specialist_id.is_none() {
            return None;
        }
        let mut change = Change::new(self.id());
        change.row = Some(SessionChanges {
            status: Some(SessionStatus::Active),
            ..Default::default()
        });
        change.event = Some(Event {
            kind: SessionEvent::Returned,
            actor: Some((ParticipantType::Visitor, visitor.id)),
            data: serde_json::json!({}),
        });
        Some(change)
    }

    /// `session.resume` by a visitor back at an answered message: it turns live, and they
    /// get the whole conversation, the reply included.
    pub(super) fn resume_returning(&self, visitor: &Participant) -> Option<Step> {
        let change = self.come_back(visitor)?;
        Some(Step::Commit(Decision {
            change,
            then: Then::Returned,
        }))
    }

    pub(super) fn returned(&mut self, stored: Stored) -> Vec<Effect> {
        self.take_row(stored);
        let mut effects = vec![Effect::AnswerWithTranscript(Audience::Visitor)];
        effects.extend(self.went_live());
        let visitor = Participant {
            kind: ParticipantType::Visitor,
            id: Some(self.row().visitor_id.0),
            name: None,
        };
        effects.extend(self.presence(&visitor, true));
        effects
    }

    /// What the dispatcher hears when a left message has just gone live.
    pub(super) fn went_live(&self) -> Option<Effect> {
        let specialist = self.row().specialist_id?;
        (self.row().status == SessionStatus::Active)
            .then_some(Effect::Queue(QueueNotice::Returned { specialist }))
    }

    /// The mail that carries a specialist's message to a visitor who left one, when they
    /// gave an address.
    pub(super) fn reply_mail(
        &self,
        sender: &Participant,
        message: &db::messages::Message,
    ) -> Option<Mail> {
        if self.row().status != SessionStatus::Offline || sender.kind != ParticipantType::Specialist
        {
            return None;
        }
        let to = Email::parse(self.view.visitor.email.as_deref()?).ok()?;
        let body = match (message.kind, message.body.is_empty()) {
            (MessageKind::File, true) => "(A file: open the chat on our website to see it.)",
            _ => message.body.as_str(),
        };
        Some(compose::reply(
            self.id(),
            &db::sessions::display_number(self.row().number),
            to,
            self.view.visitor.name.as_deref(),
            sender.name.as_deref().unwrap_or("Support"),
            body,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::super::decision::Effect;
    use super::super::fixtures::*;
    use super::super::left_message::tests::leaving;
    use super::*;
    use crate::auth::Caller;
    use crate::domain::{Body, Content, SpecialistId};

    fn left() -> SessionCommand {
        let (_, left) = LeftMessage::parse(leaving("ann@example.com", Some("+49 30 1234"), true))
            .expect("valid");
        SessionCommand::Leave(left)
    }

    /// A message left nobody has taken yet.
    fn untaken() -> Conversation {
        let mut conversation = with_status(SessionStatus::Offline);
        conversation.view.row.specialist_id = None;
        conversation.view.row.assigned_at = None;
        conversation.view.specialist_name = None;
        conversation.took_part.clear();
        conversation
    }

    fn say(body: &str) -> SessionCommand {
        SessionCommand::Send {
            client_msg_id: None,
            content: Content::Text(Body::parse(Some(body)).unwrap()),
        }
    }

    #[test]
    fn a_waiting_visitor_who_leaves_a_message_leaves_the_queue() {
        let mut waiting = waiting_conversation();
        let visitor = visitor_of(&waiting);
        let decision = commit_of(waiting.handle(&visitor, None, left(), now()));
        let row = decision.change.row.as_ref().expect("row changes");
        assert_eq!(row.status, Some(SessionStatus::Offline));
        assert_eq!(row.callback_requested, Some(true));
        assert_eq!(decision.change.messages.len(), 1);
        assert_eq!(decision.change.webhook, Some(WebhookEvent::SessionOffline));
        assert!(decision.change.contact.is_some());
        let mut stored_row = waiting.row().clone();
        stored_row.status = SessionStatus::Offline;
        stored_row.last_seq = 1;
        let effects = waiting.committed(
            decision.then,
            Stored {
                row: Some(stored_row),
                ..Stored::default()
            },
        );
        assert!(matches!(
            &effects[0],
            Effect::Answer(Answer::Offline(session)) if session.status == SessionStatus::Offline
        ));
        assert!(effects.iter().any(|e| matches!(
            e,
            Effect::Queue(QueueNotice::Closed {
                specialist: None,
                ..
            })
        )));
    }

    #[test]
    fn a_visitor_with_a_specialist_sends_instead_of_leaving_a_message() {
        let active = active();
        let visitor = visitor_of(&active);
        assert_refused(
            active.handle(&visitor, None, left(), now()),
            ErrorCode::Conflict,
        );
        let specialist = specialist_of(&active);
        assert_refused(
            active.handle(&specialist, None, left(), now()),
            ErrorCode::Forbidden,
        );
    }

    #[test]
    fn any_specialist_may_read_and_take_an_untaken_message_but_only_one_gets_it() {
        let untaken = untaken();
        let anyone = Caller::Specialist(SpecialistId::new());
        let history = SessionCommand::History {
            before_seq: None,
            limit: crate::domain::HistoryLimit::parse(None).unwrap(),
        };
        assert!(matches!(
            untaken.handle(&anyone, None, history, now()),
            Step::Read(_)
        ));
        assert_refused(
            untaken.handle(&anyone, None, say("hi"), now()),
            ErrorCode::Forbidden,
        );
        let decision =
            commit_of(untaken.handle(&anyone, Some("Sam".into()), SessionCommand::Take, now()));
        assert!(
            decision.change.beyond_capacity,
            "a left message takes no chat slot"
        );
        assert_eq!(
            decision.change.participant,
            Some(SpecialistId(anyone.uuid()))
        );
        let taken = with_status(SessionStatus::Offline);
        let other = Caller::Specialist(SpecialistId::new());
        assert_refused(
            taken.handle(&other, None, SessionCommand::Take, now()),
            ErrorCode::Conflict,
        );
        let own = specialist_of(&taken);
        assert_refused(
            taken.handle(&own, None, SessionCommand::Take, now()),
            ErrorCode::Conflict,
        );
        let waiting = waiting_conversation();
        assert_refused(
            waiting.handle(&anyone, None, SessionCommand::Take, now()),
            ErrorCode::Conflict,
        );
    }

    #[test]
    fn a_reply_to_a_left_message_is_mailed_unless_the_visitor_is_here() {
        let taken = with_status(SessionStatus::Offline);
        let specialist = specialist_of(&taken);
        let Step::UnlessVisitorHere(inner) = taken.handle(
            &specialist,
            Some("Sam".into()),
            say("We refunded you"),
            now(),
        ) else {
            panic!("a reply to a left message checks for the visitor first");
        };
        let mail = commit_of(*inner).change.mail.expect("mailed");
        assert_eq!(mail.to.as_str(), "ann@example.com");
        assert!(mail.body.contains("We refunded you"));
        let active = active();
        let specialist = specialist_of(&active);
        let decision = commit_of(active.handle(&specialist, None, say("live"), now()));
        assert!(decision.change.mail.is_none(), "a live chat is not mailed");
    }

    #[test]
    fn a_visitor_back_at_an_answered_message_goes_on_live() {
        let taken = with_status(SessionStatus::Offline);
        let visitor = visitor_of(&taken);
        let resume = || SessionCommand::Resume { after_seq: 0 };
        let decision = commit_of(taken.handle(&visitor, None, resume(), now()));
        let row = decision.change.row.as_ref().expect("row changes");
        assert_eq!(row.status, Some(SessionStatus::Active));
        assert!(matches!(decision.then, Then::Returned));
        let mut back = with_status(SessionStatus::Offline);
        let mut live = back.row().clone();
        live.status = SessionStatus::Active;
        let effects = back.committed(
            decision.then,
            Stored {
                row: Some(live),
                ..Stored::default()
            },
        );
        assert!(matches!(
            effects[0],
            Effect::AnswerWithTranscript(Audience::Visitor)
        ));
        assert!(
            effects.iter().any(|e| matches!(
                e,
                Effect::Queue(QueueNotice::Returned { specialist }) if Some(*specialist) == back.row().specialist_id
            )),
            "from now on one of its specialist's chats"
        );
        let decision = commit_of(taken.handle(&visitor, None, say("thanks!"), now()));
        assert_eq!(
            decision.change.row.and_then(|row| row.status),
            Some(SessionStatus::Active)
        );
        let untaken = untaken();
        let visitor = visitor_of(&untaken);
        assert!(matches!(
            untaken.handle(&visitor, None, resume(), now()),
            Step::Read(_)
        ));
        let decision = commit_of(untaken.handle(&visitor, None, say("one more thing"), now()));
        assert!(decision.change.row.is_none(), "still waiting for an answer");
    }
}
