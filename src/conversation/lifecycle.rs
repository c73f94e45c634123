//! How a conversation ends: ended by a participant, rated by its visitor afterwards, or
//! abandoned by a visitor who left the queue.

use chrono::{DateTime, Utc};

use super::decision::{Answer, Change, Effect, Event, QueueNotice, Stored};
use super::state::Conversation;
use super::step::{Decision, Step, Then};
use crate::db::sessions::SessionChanges;
use crate::domain::{ParticipantType, Rating, Remark, SessionEvent, SessionStatus};
use crate::protocol::objects::{Audience, Participant};
use crate::protocol::Frame;
use crate::webhooks::WebhookEvent;

impl Conversation {
    /// `session.end`: closes the conversation for everyone; its pending scheduled
    /// messages are cancelled with it.
    pub(super) fn end(&self, by: Participant, reason: Option<Remark>, now: DateTime<Utc>) -> Step {
        let reason = reason.map(Remark::into_inner);
        let mut change = Change::new(self.id());
        change.row = Some(SessionChanges {
            status: Some(SessionStatus::Ended),
            ended_at: Some(Some(now)),
            ended_by: Some(Some(by.kind)),
            ended_by_id: Some(by.id),
            end_reason: Some(reason.clone()),
            ..Default::default()
        });
        change.event = Some(Event {
            kind: SessionEvent::Ended,
            actor: Some((by.kind, by.id)),
            data: serde_json::json!({}),
        });
        change.webhook = Some(WebhookEvent::SessionEnded);
        change.cancel_scheduled = true;
        Step::Commit(Decision {
            change,
            then: Then::Ended { by, reason },
        })
    }

    pub(super) fn ended(
        &mut self,
        by: Participant,
        reason: Option<String>,
        stored: Stored,
    ) -> Vec<Effect> {
        let was = self.row().clone();
        let cancelled = stored.cancelled.clone();
        self.take_row(stored);
        let ended_by = Participant { name: None, ..by };
        let frame = |session| Frame::SessionEnded {
            reference: None,
            session_id: self.id(),
            ended_by: ended_by.clone(),
            reason: reason.clone(),
            session,
        };
        let mut effects = Vec::new();
        if !cancelled.is_empty() {
            effects.push(Effect::Forget(cancelled));
        }
        effects.push(Effect::Deliver {
            frame: frame(self.session_for(Audience::Visitor)),
            to: self.visitor_only(),
        });
        effects.push(Effect::Deliver {
            frame: frame(self.session_for(Audience::Staff)),
            to: self.staff(),
        });
        let audience = match ended_by.kind {
            ParticipantType::Visitor => Audience::Visitor,
            _ => Audience::Staff,
        };
        effects.push(Effect::Answer(Answer::Ended {
            ended_by: ended_by.clone(),
            reason: reason.clone(),
            session: self.session_for(audience),
        }));
        let ended_at = self.row().ended_at.unwrap_or_else(Utc::now);
        effects.push(Effect::Queue(QueueNotice::Closed {
            specialist: was
                .specialist_id
                .filter(|_| was.status == SessionStatus::Active),
            // A left message was answered over hours, by mail: no measure of a chat.
            handled_secs: was
                .assigned_at
                .filter(|_| was.left_message_at.is_none())
                .map(|at| (ended_at - at).num_milliseconds() as f64 / 1000.0),
        }));
        effects
    }

    /// `session.rate`: once, after the end.
    pub(super) fn rate(&self, rating: Rating, comment: Option<Remark>, now: DateTime<Utc>) -> Step {
        let rating = rating.value();
        let mut change = Change::new(self.id());
        change.row = Some(SessionChanges {
            rating: Some(Some(rating)),
            feedback: Some(comment.map(Remark::into_inner)),
            rated_at: Some(Some(now)),
            ..Default::default()
        });
        change.event = Some(Event {
            kind: SessionEvent::Rated,
            actor: Some((ParticipantType::Visitor, Some(self.row().visitor_id.0))),
            data: serde_json::json!({ "rating": rating }),
        });
        change.webhook = Some(WebhookEvent::SessionRated);
        Step::Commit(Decision {
            change,
            then: Then::Rated(rating),
        })
    }

    pub(super) fn rated(&mut self, rating: i16, stored: Stored) -> Vec<Effect> {
        self.take_row(stored);
        vec![Effect::Answer(Answer::Rated(rating))]
    }

    /// The visitor has been gone too long while waiting. `None` once it no longer waits.
    pub fn abandon(&self, now: DateTime<Utc>) -> Option<Decision> {
        if self.row().status != SessionStatus::Waiting {
            return None;
        }
        let mut change = Change::new(self.id());
        change.row = Some(SessionChanges {
            status: Some(SessionStatus::Abandoned),
            ended_at: Some(Some(now)),
            ended_by: Some(Some(ParticipantType::System)),
            end_reason: Some(Some("visitor left".to_owned())),
            ..Default::default()
        });
        change.event = Some(Event {
            kind: SessionEvent::Abandoned,
            actor: Some((ParticipantType::System, None)),
            data: serde_json::json!({}),
        });
        change.webhook = Some(WebhookEvent::SessionAbandoned);
        Some(Decision {
            change,
            then: Then::Abandoned,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;

    fn end_command() -> SessionCommand {
        SessionCommand::End {
            reason: Remark::parse("reason", Some("done"), 500).unwrap(),
        }
    }

    #[test]
    fn ending_tells_both_sides_and_frees_the_specialists_slot() {
        let mut conversation = active();
        let specialist = conversation.row().specialist_id;
        let visitor = visitor_of(&conversation);
        let decision = commit_of(conversation.handle(&visitor, None, end_command(), now()));
        assert!(decision.change.cancel_scheduled);
        assert_eq!(decision.change.webhook, Some(WebhookEvent::SessionEnded));
        let mut row = conversation.row().clone();
        row.status = SessionStatus::Ended;
        row.ended_at = Some(now());
        let stored = Stored {
            row: Some(row),
            cancelled: vec![crate::domain::ScheduledId::new()],
            ..Stored::default()
        };
        let effects = conversation.committed(decision.then, stored);
        assert!(matches!(effects[0], Effect::Forget(ref ids) if ids.len() == 1));
        let delivered = effects
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    Effect::Deliver {
                        frame: Frame::SessionEnded { .. },
                        ..
                    }
                )
            })
            .count();
        assert_eq!(delivered, 2, "one frame per audience");
        assert!(effects
            .iter()
            .any(|e| matches!(e, Effect::Answer(Answer::Ended { .. }))));
        assert!(effects.iter().any(|e| matches!(
            e,
            Effect::Queue(QueueNotice::Closed { specialist: s, .. }) if *s == specialist
        )));
        assert_eq!(conversation.row().status, SessionStatus::Ended);
    }

    #[test]
    fn an_ended_session_cannot_be_ended_again() {
        let ended = with_status(SessionStatus::Ended);
        let visitor = visitor_of(&ended);
        assert_refused(
            ended.handle(&visitor, None, end_command(), now()),
            ErrorCode::Conflict,
        );
    }

    #[test]
    fn only_the_visitor_rates_and_only_once_after_the_end() {
        let rate = || SessionCommand::Rate {
            rating: Rating::parse(4).unwrap(),
            comment: None,
        };
        let active = active();
        let visitor = visitor_of(&active);
        assert_refused(
            active.handle(&visitor, None, rate(), now()),
            ErrorCode::Conflict,
        );
        let mut ended = with_status(SessionStatus::Ended);
        let visitor = visitor_of(&ended);
        let specialist = specialist_of(&ended);
        assert_refused(
            ended.handle(&specialist, None, rate(), now()),
            ErrorCode::Forbidden,
        );
        let decision = commit_of(ended.handle(&visitor, None, rate(), now()));
        let mut row = ended.row().clone();
        row.rating = Some(4);
        let effects = ended.committed(
            decision.then,
            Stored {
                row: Some(row),
                ..Stored::default()
            },
        );
        assert!(matches!(effects[..], [Effect::Answer(Answer::Rated(4))]));
        assert_refused(
            ended.handle(&visitor, None, rate(), now()),
            ErrorCode::Conflict,
        );
    }

    #[test]
    fn only_a_waiting_session_is_abandoned() {
        let waiting = waiting_conversation();
        let decision = waiting.abandon(now()).expect("waiting");
        assert_eq!(
            decision.change.webhook,
            Some(WebhookEvent::SessionAbandoned)
        );
        assert!(active().abandon(now()).is_none());
    }
}
