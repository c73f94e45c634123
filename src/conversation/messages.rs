//! Transitions that add messages: a participant's message (text or file), a resend of one
//! already stored, a specialist's note.

use chrono::{DateTime, Utc};

use super::decision::{Answer, Change, Effect, FileToSend, Stored};
use super::state::Conversation;
use super::step::{Decision, Query, Step, Then};
use crate::db::{self, sessions::SessionChanges};
use crate::domain::{
    Body, ClientMsgId, Content, MessageId, MessageKind, ParticipantType, SessionStatus,
};
use crate::protocol::objects::{Attachment, Message, Participant};

impl Conversation {
    /// `message.send`: a resend answers with the original ack; anything else is stored,
    /// acknowledged and delivered. A specialist's first message also stamps the session's
    /// first response.
    pub(super) fn send(
        &self,
        sender: Participant,
        client_msg_id: Option<ClientMsgId>,
        content: Content,
        now: DateTime<Utc>,
    ) -> Step {
        if let Some(key) = &client_msg_id {
            if let Some(seq) = self.sent.get(&(sender.id, key.as_str().to_owned())) {
                return self.resend(*seq);
            }
        }
        let file = content.attachment().map(|attachment| FileToSend {
            attachment,
            uploader: sender.id,
        });
        let kind = if file.is_some() {
            MessageKind::File
        } else {
            MessageKind::Text
        };
        let mut row = self.new_row(&sender, kind, content.into_text(), now);
        row.client_msg_id = client_msg_id.map(ClientMsgId::into_inner);
        row.attachment_id = file.map(|f| f.attachment);
        let mut change = match sender.kind {
            ParticipantType::Visitor => self.come_back(&sender),
            _ => None,
        }
        .unwrap_or_else(|| Change::new(self.id()));
        change.file = file;
        if sender.kind == ParticipantType::Specialist {
            change.row = self.first_response(now);
        }
        change.mail = self.reply_mail(&sender, &row);
        let unknown_key = row
            .client_msg_id
            .clone()
            .zip(sender.id)
            .filter(|_| !self.keys_complete);
        let mailed = change.mail.is_some();
        let decision = appending(change, row, sender.name, false);
        let step = match unknown_key {
            // A key older than those in memory may still be a resend.
            Some((key, sender)) => Step::CheckKey {
                sender,
                key,
                decision,
            },
            None => Step::Commit(decision),
        };
        if mailed {
            Step::UnlessVisitorHere(Box::new(step))
        } else {
            step
        }
    }

    fn resend(&self, seq: i32) -> Step {
        match self.recent.iter().find(|m| m.seq == seq) {
            Some(message) => Step::Done(vec![Effect::Answer(Answer::Sent(message.clone()))]),
            None => Step::Read(Query::Resent { seq }),
        }
    }

    /// `note.add`: a message only staff ever see.
    pub(super) fn note(&self, sender: Participant, body: Body, now: DateTime<Utc>) -> Step {
        let row = self.new_row(&sender, MessageKind::Note, body.into_inner(), now);
        Step::Commit(appending(Change::new(self.id()), row, sender.name, true))
    }

    pub(super) fn appended(
        &mut self,
        mut message: Message,
        acknowledge: bool,
        staff_only: bool,
        stored: Stored,
    ) -> Vec<Effect> {
        message.attachment = stored.file.as_ref().map(Attachment::from);
        let was = self.row().status;
        match stored.row {
            Some(row) => self.apply_row(row),
            None => self.view.row.last_seq = message.seq,
        }
        let to = if staff_only {
            self.staff()
        } else {
            self.everyone()
        };
        self.remember(message.clone());
        let mut effects = Vec::with_capacity(2);
        if acknowledge {
            effects.push(Effect::Answer(Answer::Sent(message.clone())));
        }
        effects.push(Effect::Deliver {
            frame: crate::protocol::Frame::MessageNew { message },
            to,
        });
        if was == SessionStatus::Offline {
            // Its visitor wrote back to the answer they came back to.
            effects.extend(self.went_live());
        }
        effects
    }

    /// The next message of the conversation, from `sender`.
    pub(super) fn new_row(
        &self,
        sender: &Participant,
        kind: MessageKind,
        body: String,
        now: DateTime<Utc>,
    ) -> db::messages::Message {
        self.row_at(self.next_seq(), sender, kind, body, now)
    }

    pub(super) fn row_at(
        &self,
        seq: i32,
        sender: &Participant,
        kind: MessageKind,
        body: String,
        now: DateTime<Utc>,
    ) -> db::messages::Message {
        db::messages::Message {
            id: MessageId::new(),
            session_id: self.id(),
            seq,
            sender_type: sender.kind,
            sender_id: sender.id,
            kind,
            body,
            attachment_id: None,
            client_msg_id: None,
            created_at: now,
        }
    }

    /// The session's first response, when a specialist's message now would be it.
    pub(super) fn first_response(&self, now: DateTime<Utc>) -> Option<SessionChanges> {
        self.row()
            .first_response_at
            .is_none()
            .then(|| SessionChanges {
                first_response_at: Some(Some(now)),
                ..Default::default()
            })
    }
}

/// A requester's message (or note, `staff_only`) added to `change`, to be acknowledged
/// and delivered once stored.
fn appending(
    mut change: Change,
    row: db::messages::Message,
    sender_name: Option<String>,
    staff_only: bool,
) -> Decision {
    let message = Message::from_row(&row, sender_name);
    change.messages.push(row);
    Decision {
        change,
        then: Then::Appended {
            message: Box::new(message),
            acknowledge: true,
            staff_only,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;
    use crate::conversation::REMEMBERED_KEYS;
    use crate::domain::{AttachmentId, SessionStatus};
    use crate::protocol::Frame;

    fn text(body: &str) -> Content {
        Content::Text(Body::parse(Some(body)).unwrap())
    }

    fn key(raw: &str) -> Option<ClientMsgId> {
        Some(ClientMsgId::parse(raw.to_owned()).unwrap())
    }

    #[test]
    fn a_message_is_committed_with_the_next_seq_then_acked_and_delivered() {
        let mut conversation = active();
        let visitor = visitor_of(&conversation);
        let step = conversation.handle(&visitor, None, send_command("m1", "hello"), now());
        let decision = commit_of(step);
        assert!(
            decision.change.only_appends(),
            "the hot path: one batched insert"
        );
        assert_eq!(decision.change.messages[0].seq, 1);
        assert_eq!(decision.change.messages[0].body, "hello");
        assert_eq!(
            conversation.row().last_seq,
            0,
            "nothing changes before the commit"
        );

        let effects = conversation.committed(decision.then, Stored::default());
        assert_eq!(conversation.row().last_seq, 1);
        let Effect::Answer(Answer::Sent(acked)) = &effects[0] else {
            panic!("{effects:?}")
        };
        assert_eq!(acked.client_msg_id.as_deref(), Some("m1"));
        let Effect::Deliver { frame, to } = &effects[1] else {
            panic!("{effects:?}")
        };
        assert!(matches!(frame, Frame::MessageNew { .. }));
        assert_eq!(to.iter().count(), 2, "visitor and specialist");
    }

    #[test]
    fn a_resend_answers_the_original_ack_and_stores_nothing() {
        let mut conversation = active();
        let visitor = visitor_of(&conversation);
        let first = commit_of(conversation.handle(&visitor, None, send_command("m1", "hi"), now()));
        conversation.committed(first.then, Stored::default());
        let again = conversation.handle(&visitor, None, send_command("m1", "hi"), now());
        let Step::Done(effects) = again else {
            panic!("{again:?}")
        };
        assert!(matches!(&effects[..], [Effect::Answer(Answer::Sent(m))] if m.seq == 1));
    }

    #[test]
    fn a_resend_of_a_message_no_longer_in_memory_is_read_back() {
        let mut conversation = active();
        conversation
            .sent
            .insert((Some(conversation.row().visitor_id.0), "old".into()), 7);
        let visitor = visitor_of(&conversation);
        let step = conversation.handle(&visitor, None, send_command("old", "x"), now());
        assert!(
            matches!(step, Step::Read(Query::Resent { seq: 7 })),
            "{step:?}"
        );
    }

    #[test]
    fn past_the_remembered_keys_an_unknown_key_is_checked_in_the_database() {
        let mut conversation = active();
        let visitor = visitor_of(&conversation);
        let step = conversation.handle(&visitor, None, send_command("k0", "hi"), now());
        assert!(
            matches!(step, Step::Commit(_)),
            "every key is known: no lookup"
        );
        for seq in 1..=(REMEMBERED_KEYS as i32 + 1) {
            let mut message = Message::from_row(
                &conversation.row_at(
                    seq,
                    &participant(&visitor),
                    MessageKind::Text,
                    String::new(),
                    now(),
                ),
                None,
            );
            message.client_msg_id = Some(format!("k{seq}"));
            conversation.remember(message);
        }
        assert_eq!(conversation.sent.len(), REMEMBERED_KEYS);
        let step = conversation.handle(&visitor, None, send_command("k1", "again?"), now());
        assert!(
            matches!(step, Step::CheckKey { ref key, .. } if key == "k1"),
            "{step:?}"
        );
        let recent = conversation.handle(&visitor, None, send_command("k9000", "again"), now());
        assert!(
            matches!(recent, Step::Done(_) | Step::Read(_)),
            "{recent:?}"
        );
    }

    #[test]
    fn the_same_key_from_another_sender_is_another_message() {
        let mut conversation = active();
        let visitor = visitor_of(&conversation);
        let first = commit_of(conversation.handle(&visitor, None, send_command("k", "hi"), now()));
        conversation.committed(first.then, Stored::default());
        let specialist = specialist_of(&conversation);
        let step = conversation.handle(&specialist, None, send_command("k", "hello"), now());
        assert_eq!(commit_of(step).change.messages[0].seq, 2);
    }

    #[test]
    fn a_specialists_first_message_stamps_the_first_response() {
        let conversation = active();
        let specialist = specialist_of(&conversation);
        let decision =
            commit_of(conversation.handle(&specialist, None, send_command("a", "hi"), now()));
        let changes = decision.change.row.expect("first response");
        assert_eq!(changes.first_response_at, Some(Some(now())));
    }

    #[test]
    fn a_file_is_checked_in_the_commit_and_carried_by_the_message() {
        let mut conversation = active();
        let visitor = visitor_of(&conversation);
        let file = AttachmentId::new();
        let command = SessionCommand::Send {
            client_msg_id: key("f"),
            content: Content::parse(Some("receipt"), Some(file)).unwrap(),
        };
        let decision = commit_of(conversation.handle(&visitor, None, command, now()));
        let check = decision.change.file.expect("checked before storing");
        assert_eq!(check.attachment, file);
        assert_eq!(check.uploader, Some(visitor.uuid()));
        assert_eq!(decision.change.messages[0].kind, MessageKind::File);
        let stored = Stored {
            file: Some(attachment_row(file, conversation.id())),
            ..Stored::default()
        };
        let effects = conversation.committed(decision.then, stored);
        let Effect::Answer(Answer::Sent(message)) = &effects[0] else {
            panic!("{effects:?}")
        };
        assert_eq!(message.attachment.as_ref().map(|a| a.id), Some(file));
    }

    #[test]
    fn a_failed_commit_refuses_and_changes_nothing() {
        let conversation = active();
        let visitor = visitor_of(&conversation);
        let decision =
            commit_of(conversation.handle(&visitor, None, send_command("m", "x"), now()));
        let error = crate::error::Error::internal("database away");
        let effects = conversation.failed(&decision.then, error);
        assert!(matches!(&effects[..], [Effect::Refuse(_)]));
        assert_eq!(conversation.row().last_seq, 0);
    }

    #[test]
    fn strangers_and_ended_sessions_take_no_messages() {
        let conversation = active();
        let stranger = crate::auth::Caller::Visitor(crate::domain::VisitorId::new());
        assert_refused(
            conversation.handle(&stranger, None, send_command("m", "x"), now()),
            ErrorCode::Forbidden,
        );
        let ended = with_status(SessionStatus::Ended);
        let visitor = visitor_of(&ended);
        assert_refused(
            ended.handle(&visitor, None, send_command("m", "x"), now()),
            ErrorCode::Conflict,
        );
    }

    #[test]
    fn notes_go_to_staff_only() {
        let mut conversation = active();
        let specialist = specialist_of(&conversation);
        let command = SessionCommand::Note {
            body: Body::parse(Some("VIP")).unwrap(),
        };
        let decision = commit_of(conversation.handle(&specialist, None, command, now()));
        assert_eq!(decision.change.messages[0].kind, MessageKind::Note);
        let effects = conversation.committed(decision.then, Stored::default());
        let Effect::Deliver { to, .. } = &effects[1] else {
            panic!("{effects:?}")
        };
        assert_eq!(
            to.iter().collect::<Vec<_>>(),
            vec![conversation.specialist().unwrap()]
        );
        let visitor = visitor_of(&conversation);
        let command = SessionCommand::Note {
            body: Body::parse(Some("x")).unwrap(),
        };
        assert_refused(
            conversation.handle(&visitor, None, command, now()),
            ErrorCode::Forbidden,
        );
    }

    fn send_command(key_text: &str, body: &str) -> SessionCommand {
        SessionCommand::Send {
            client_msg_id: key(key_text),
            content: text(body),
        }
    }
}
