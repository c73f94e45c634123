//! Messages scheduled for later (SPEC section 10): a specialist's `message.send` with
//! `send_at` stored as a pending row, and its delivery when it comes due.

use chrono::{DateTime, Utc};

use super::decision::{Answer, Change, Effect, FileToSend, ScheduledUpdate, Stored};
use super::state::Conversation;
use super::step::{Decision, Step, Then};
use crate::db::scheduled_messages::ScheduledMessage;
use crate::domain::{
    ClientMsgId, Content, MessageKind, ParticipantType, ScheduledState, SendAt, SessionStatus,
    SpecialistId,
};
use crate::protocol::objects::{Message, Participant};

impl Conversation {
    /// `message.send` with `send_at`: stored for later. A resend of the same request
    /// (same `client_msg_id`) answers with the row stored the first time.
    pub(super) fn schedule(
        &self,
        author: SpecialistId,
        client_msg_id: ClientMsgId,
        content: Content,
        send_at: SendAt,
        now: DateTime<Utc>,
    ) -> Step {
        let attachment = content.attachment();
        let mut change = Change::new(self.id());
        change.file = attachment.map(|attachment| FileToSend {
            attachment,
            uploader: Some(author.0),
        });
        change.new_scheduled = Some(ScheduledMessage {
            id: crate::domain::ScheduledId::new(),
            session_id: self.id(),
            specialist_id: author,
            body: content.into_text(),
            attachment_id: attachment,
            client_msg_id: client_msg_id.into_inner(),
            send_at: send_at.at(),
            state: ScheduledState::Pending,
            created_at: now,
            sent_at: None,
            cancelled_at: None,
            message_seq: None,
        });
        Step::Commit(Decision {
            change,
            then: Then::Scheduled,
        })
    }

    /// A scheduled message has come due. It is sent as an ordinary message of its
    /// specialist while the session is active and still theirs and its file can still be
    /// sent (`file_sendable`); otherwise it is cancelled. `None`: it is no longer pending.
    pub fn deliver_scheduled(
        &self,
        pending: ScheduledMessage,
        file_sendable: bool,
        now: DateTime<Utc>,
    ) -> Option<Decision> {
        if pending.state != ScheduledState::Pending {
            return None;
        }
        let row = self.row();
        let current = row
            .specialist_id
            .filter(|_| row.status == SessionStatus::Active);
        let mut change = Change::new(self.id());
        if current != Some(pending.specialist_id) || !file_sendable {
            change.scheduled = Some(ScheduledUpdate::Cancelled(pending.id));
            return Some(Decision {
                change,
                then: Then::ScheduledCancelled(pending.id),
            });
        }
        let sender = Participant {
            kind: ParticipantType::Specialist,
            id: Some(pending.specialist_id.0),
            name: self.view.specialist_name.clone(),
        };
        let kind = match pending.attachment_id {
            Some(_) => MessageKind::File,
            None => MessageKind::Text,
        };
        let mut message = self.new_row(&sender, kind, pending.body, now);
        message.attachment_id = pending.attachment_id;
        // Derived from the row, so the message is recognisably this row's.
        message.client_msg_id = Some(format!("scheduled-{}", pending.id));
        change.file = pending.attachment_id.map(|attachment| FileToSend {
            attachment,
            uploader: sender.id,
        });
        change.scheduled = Some(ScheduledUpdate::Sent {
            id: pending.id,
            seq: message.seq,
            at: now,
        });
        change.row = self.first_response(now);
        let wire = Message::from_row(&message, sender.name);
        change.messages.push(message);
        Some(Decision {
            change,
            then: Then::Appended {
                message: Box::new(wire),
                acknowledge: false,
                staff_only: false,
            },
        })
    }

    pub(super) fn scheduled(&mut self, stored: Stored) -> Vec<Effect> {
        let Some(row) = stored.scheduled else {
            return vec![];
        };
        let mut effects = Vec::with_capacity(2);
        if row.state == ScheduledState::Pending {
            effects.push(Effect::Schedule {
                id: row.id,
                send_at: row.send_at,
            });
        }
        effects.push(Effect::Answer(Answer::Scheduled {
            id: row.id,
            send_at: row.send_at,
        }));
        effects
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;
    use crate::domain::{Body, ScheduledId};

    fn text(body: &str) -> Content {
        Content::Text(Body::parse(Some(body)).unwrap())
    }

    #[test]
    fn only_the_assigned_specialist_schedules_and_a_pending_row_is_timed() {
        let mut conversation = active();
        let specialist = specialist_of(&conversation);
        let send_at = SendAt::parse(now() + chrono::TimeDelta::hours(1), now()).unwrap();
        let command = || SessionCommand::Schedule {
            client_msg_id: ClientMsgId::parse("s1".into()).unwrap(),
            content: text("later"),
            send_at,
        };
        let visitor = visitor_of(&conversation);
        assert_refused(
            conversation.handle(&visitor, None, command(), now()),
            ErrorCode::Forbidden,
        );
        let decision = commit_of(conversation.handle(&specialist, None, command(), now()));
        let row = decision
            .change
            .new_scheduled
            .clone()
            .expect("a row to store");
        assert_eq!(row.specialist_id, specialist.staff().unwrap());
        let effects = conversation.committed(
            decision.then,
            Stored {
                scheduled: Some(row.clone()),
                ..Stored::default()
            },
        );
        assert!(matches!(effects[0], Effect::Schedule { id, .. } if id == row.id));
        assert!(matches!(
            effects[1],
            Effect::Answer(Answer::Scheduled { .. })
        ));
    }

    #[test]
    fn a_due_message_is_sent_while_the_session_is_its_authors_and_cancelled_otherwise() {
        let mut conversation = active();
        let author = conversation.row().specialist_id.unwrap();
        let pending = scheduled_row(&conversation, author);
        let decision = conversation
            .deliver_scheduled(pending.clone(), true, now())
            .expect("pending");
        assert!(matches!(
            decision.change.scheduled,
            Some(ScheduledUpdate::Sent { seq: 1, .. })
        ));
        assert_eq!(
            decision.change.messages[0].client_msg_id,
            Some(format!("scheduled-{}", pending.id))
        );
        let effects = conversation.committed(decision.then, Stored::default());
        assert!(
            matches!(&effects[..], [Effect::Deliver { .. }]),
            "nobody to ack"
        );

        let cancelled = conversation
            .deliver_scheduled(pending.clone(), false, now())
            .expect("pending");
        assert!(matches!(cancelled.then, Then::ScheduledCancelled(id) if id == pending.id));
        let someone_else = scheduled_row(&conversation, SpecialistId::new());
        let cancelled = conversation
            .deliver_scheduled(someone_else, true, now())
            .expect("pending");
        assert!(matches!(
            cancelled.change.scheduled,
            Some(ScheduledUpdate::Cancelled(_))
        ));
        let mut sent = pending;
        sent.state = ScheduledState::Sent;
        assert!(conversation.deliver_scheduled(sent, true, now()).is_none());
    }

    fn scheduled_row(conversation: &Conversation, author: SpecialistId) -> ScheduledMessage {
        ScheduledMessage {
            id: ScheduledId::new(),
            session_id: conversation.id(),
            specialist_id: author,
            body: "later".into(),
            attachment_id: None,
            client_msg_id: "s".into(),
            send_at: now(),
            state: ScheduledState::Pending,
            created_at: now(),
            sent_at: None,
            cancelled_at: None,
            message_seq: None,
        }
    }
}
