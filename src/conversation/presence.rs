//! Who is there and what they have seen: typing indicators, read receipts and presence
//! notices. They go to the other participants only, never back to their author's tabs.

use super::decision::{Change, Effect, ReadCursor};
use super::state::Conversation;
use super::step::{Decision, Step, Then};
use crate::domain::SessionStatus;
use crate::error::Error;
use crate::protocol::objects::Participant;
use crate::protocol::Frame;

impl Conversation {
    /// The typing notice of `from` for the others.
    pub fn typing(&self, from: &Participant, is_typing: bool) -> Effect {
        Effect::Deliver {
            frame: Frame::Typing {
                session_id: self.id(),
                from: from.clone(),
                is_typing,
            },
            to: self.others_than(from),
        }
    }

    /// `read`: moves the reader's cursor forward; a cursor never moves back, and reading
    /// what was already read stores nothing.
    pub(super) fn read(&self, reader: Participant, seq: i32) -> Step {
        let last_seq = self.row().last_seq;
        if seq < 1 || seq > last_seq {
            return Step::refuse(Error::bad_request(format!("seq: between 1 and {last_seq}")));
        }
        let Some(reader_id) = reader.id else {
            return Step::Done(vec![]);
        };
        if self
            .read
            .get(&(reader.kind, reader_id))
            .is_some_and(|current| *current >= seq)
        {
            return Step::Done(vec![]);
        }
        let mut change = Change::new(self.id());
        change.read_cursor = Some(ReadCursor {
            kind: reader.kind,
            reader: reader_id,
            seq,
        });
        Step::Commit(Decision {
            change,
            then: Then::Read { reader, seq },
        })
    }

    pub(super) fn marked_read(&mut self, reader: Participant, seq: i32) -> Vec<Effect> {
        let Some(reader_id) = reader.id else {
            return vec![];
        };
        let current = self.read.entry((reader.kind, reader_id)).or_insert(0);
        *current = (*current).max(seq);
        let by = Participant {
            name: None,
            ..reader.clone()
        };
        vec![Effect::Deliver {
            frame: Frame::Read {
                session_id: self.id(),
                by,
                seq,
            },
            to: self.others_than(&reader),
        }]
    }

    /// A participant's client connected or dropped: the other side hears of it while the
    /// conversation is active.
    pub fn presence(&self, participant: &Participant, online: bool) -> Option<Effect> {
        if self.row().status != SessionStatus::Active {
            return None;
        }
        Some(Effect::Deliver {
            frame: Frame::Presence {
                session_id: self.id(),
                participant: Participant {
                    name: None,
                    ..participant.clone()
                },
                online,
            },
            to: self.others_than(participant),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;
    use crate::domain::Peer;

    #[test]
    fn typing_goes_to_the_others_only() {
        let conversation = active();
        let visitor = participant(&visitor_of(&conversation));
        let Effect::Deliver { to, .. } = conversation.typing(&visitor, true) else {
            panic!()
        };
        assert_eq!(
            to.iter().collect::<Vec<_>>(),
            vec![conversation.specialist().unwrap()]
        );
    }

    #[test]
    fn a_read_cursor_moves_forward_only_and_is_announced_to_the_others() {
        let mut conversation = with_messages(3);
        let specialist = specialist_of(&conversation);
        let read = |c: &Conversation, seq| {
            c.handle(&specialist, None, SessionCommand::Read { seq }, now())
        };
        assert_refused(read(&conversation, 4), ErrorCode::BadRequest);
        assert_refused(read(&conversation, 0), ErrorCode::BadRequest);
        let decision = commit_of(read(&conversation, 2));
        let effects = conversation.committed(decision.then, Stored::default());
        let Effect::Deliver { to, .. } = &effects[0] else {
            panic!("{effects:?}")
        };
        assert_eq!(to.iter().collect::<Vec<_>>(), vec![conversation.visitor()]);
        assert!(matches!(read(&conversation, 1), Step::Done(e) if e.is_empty()));
        assert!(matches!(read(&conversation, 2), Step::Done(e) if e.is_empty()));
        assert!(matches!(read(&conversation, 3), Step::Commit(_)));
    }

    #[test]
    fn presence_is_told_only_while_active() {
        let conversation = active();
        let visitor = participant(&visitor_of(&conversation));
        let Some(Effect::Deliver { to, .. }) = conversation.presence(&visitor, false) else {
            panic!()
        };
        let specialist = conversation.row().specialist_id.unwrap();
        assert_eq!(
            to.iter().collect::<Vec<_>>(),
            vec![Peer::specialist(specialist.0)]
        );
        let waiting = waiting_conversation();
        assert!(waiting.presence(&visitor, true).is_none());
    }
}
