//! The requests a participant makes of a session (over WebSocket or HTTP), with inputs
//! already parsed, and the one place they are authorized and routed to their transition.

use chrono::{DateTime, Utc};

use super::left_message::LeftMessage;
use super::state::Conversation;
use super::step::{PageAnswer, Query, Step};
use crate::access::{self, Action, Party};
use crate::auth::Caller;
use crate::db::messages::Page;
use crate::domain::{
    inputs, Body, ClientMsgId, Content, HistoryLimit, Rating, Remark, SendAt, SessionId,
    SpecialistId,
};
use crate::error::{Error, Result};
use crate::protocol::objects::Participant;
use crate::protocol::Request;

/// Most messages one `session.state` carries.
pub const RESUME_LIMIT: i64 = 500;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum SessionCommand {
    Send {
        client_msg_id: Option<ClientMsgId>,
        content: Content,
    },
    /// A specialist's `message.send` with `send_at`: stored now, sent at that time.
    Schedule {
        client_msg_id: ClientMsgId,
        content: Content,
        send_at: SendAt,
    },
    Typing {
        is_typing: bool,
    },
    Read {
        seq: i32,
    },
    Resume {
        after_seq: i32,
    },
    History {
        before_seq: Option<i32>,
        limit: HistoryLimit,
    },
    End {
        reason: Option<Remark>,
    },
    Rate {
        rating: Rating,
        comment: Option<Remark>,
    },
    Note {
        body: Body,
    },
    Transfer {
        to: Option<SpecialistId>,
        /// Replaces the session's required skills when given.
        skills: Option<Vec<String>>,
        note: Option<Remark>,
    },
    /// `message.leave` on the visitor's open session.
    Leave(LeftMessage),
    /// `session.pickup` of a message left, which is not in the queue.
    Take,
}

/// A request to one session, its inputs parsed into the conversation's types.
impl SessionCommand {
    /// A WebSocket request to one session, its inputs parsed: the boundary where a bad
    /// value becomes `bad_request`.
    pub fn parse(request: Request) -> Result<(SessionId, SessionCommand)> {
        Ok(match request {
            Request::MessageSend {
                session_id,
                client_msg_id,
                body,
                attachment_id,
                send_at,
            } => {
                let client_msg_id = ClientMsgId::parse(client_msg_id)?;
                let content = Content::parse(body.as_deref(), attachment_id)?;
                let command = match send_at {
                    None => SessionCommand::Send {
                        client_msg_id: Some(client_msg_id),
                        content,
                    },
                    Some(send_at) => SessionCommand::Schedule {
                        client_msg_id,
                        content,
                        send_at: SendAt::parse(send_at, Utc::now())?,
                    },
                };
                (session_id, command)
            }
            Request::Typing {
                session_id,
                is_typing,
            } => (session_id, SessionCommand::Typing { is_typing }),
            Request::Read { session_id, seq } => (session_id, SessionCommand::Read { seq }),
            Request::SessionResume {
                session_id,
                after_seq,
            } => (session_id, SessionCommand::Resume { after_seq }),
            Request::History {
                session_id,
                before_seq,
                limit,
            } => {
                let limit = HistoryLimit::parse(limit)?;
                (session_id, SessionCommand::History { before_seq, limit })
            }
            Request::SessionEnd { session_id, reason } => {
                let reason = Remark::parse("reason", reason.as_deref(), Remark::REASON_CHARS)?;
                (session_id, SessionCommand::End { reason })
            }
            Request::SessionRate {
                session_id,
                rating,
                comment,
            } => {
                let rating = Rating::parse(rating)?;
                let comment = Remark::parse("comment", comment.as_deref(), Remark::COMMENT_CHARS)?;
                (session_id, SessionCommand::Rate { rating, comment })
            }
            Request::NoteAdd { session_id, body } => {
                let body = Body::parse(Some(&body))?;
                (session_id, SessionCommand::Note { body })
            }
            Request::SessionTransfer {
                session_id,
                to_specialist_id,
                skills,
                note,
            } => {
                let skills = skills
                    .map(|skills| inputs::skills("skills", &skills))
                    .transpose()?;
                let note = Remark::parse("note", note.as_deref(), Remark::NOTE_CHARS)?;
                let command = SessionCommand::Transfer {
                    to: to_specialist_id,
                    skills,
                    note,
                };
                (session_id, command)
            }
            other => {
                return Err(Error::internal(format!(
                    "{} is not a session request",
                    other.name()
                )))
            }
        })
    }
}

impl SessionCommand {
    fn action(&self) -> Action {
        match self {
            SessionCommand::Send { .. } => Action::Send,
            SessionCommand::Schedule { .. } => Action::Schedule,
            SessionCommand::Typing { .. } => Action::Typing,
            SessionCommand::Read { .. } => Action::Read,
            SessionCommand::Resume { .. } => Action::Resume,
            SessionCommand::History { .. } => Action::History,
            SessionCommand::End { .. } => Action::End,
            SessionCommand::Rate { .. } => Action::Rate,
            SessionCommand::Note { .. } => Action::Note,
            SessionCommand::Transfer { .. } => Action::Transfer,
            SessionCommand::Leave(_) => Action::Leave,
            SessionCommand::Take => Action::Take,
        }
    }
}

impl Conversation {
    /// Authorizes `command` for `caller` (whose display name is `name`) and decides it.
    pub fn handle(
        &self,
        caller: &Caller,
        name: Option<String>,
        command: SessionCommand,
        now: DateTime<Utc>,
    ) -> Step {
        let party = match access::authorize(self.row(), caller, command.action()) {
            Ok(party) => party,
            Err(error) => return Step::refuse(error),
        };
        let sender = Participant {
            kind: party.participant_type(),
            id: Some(caller.uuid()),
            name,
        };
        match command {
            SessionCommand::Send {
                client_msg_id,
                content,
            } => self.send(sender, client_msg_id, content, now),
            SessionCommand::Leave(left) => self.leave(sender, left, now),
            SessionCommand::Take => self.take(sender, now),
            SessionCommand::Schedule {
                client_msg_id,
                content,
                send_at,
            } => match caller.staff() {
                Some(author) => self.schedule(author, client_msg_id, content, send_at, now),
                None => Step::refuse(Error::forbidden("only specialists schedule messages")),
            },
            SessionCommand::Note { body } => self.note(sender, body, now),
            SessionCommand::Typing { is_typing } => Step::Typing {
                from: sender,
                is_typing,
            },
            SessionCommand::Read { seq } => self.read(sender, seq),
            SessionCommand::Resume { after_seq } => match party {
                Party::Visitor => self.resume_returning(&sender),
                _ => None,
            }
            .unwrap_or_else(|| {
                Step::Read(Query::Page {
                    page: Page::After(after_seq.max(0)),
                    limit: RESUME_LIMIT,
                    with_notes: party.sees_notes(),
                    answer: PageAnswer::State(Box::new(self.session_for(party.audience()))),
                })
            }),
            SessionCommand::History { before_seq, limit } => Step::Read(Query::Page {
                page: Page::Before(before_seq.unwrap_or(i32::MAX)),
                limit: limit.value(),
                with_notes: party.sees_notes(),
                answer: PageAnswer::History,
            }),
            SessionCommand::End { reason } => self.end(sender, reason, now),
            SessionCommand::Rate { rating, comment } => self.rate(rating, comment, now),
            SessionCommand::Transfer { to, skills, note } => {
                self.transfer(sender, to, skills, note, now)
            }
        }
    }
}
