//! Conversations to test the rules on, without a database.

use chrono::{DateTime, TimeZone, Utc};

pub use super::command::SessionCommand;
pub use super::decision::Stored;
use super::state::{Conversation, Restored};
pub use super::step::{Decision, Step};
use crate::auth::Caller;
use crate::db;
use crate::db::sessions::SessionView;
use crate::domain::{
    AttachmentId, MessageId, MessageKind, ParticipantType, SessionId, SessionStatus,
};
pub use crate::error::ErrorCode;
use crate::protocol::objects::{Message, Participant};

/// A fixed clock, so times can be compared exactly.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap()
}

pub fn with_status(status: SessionStatus) -> Conversation {
    let mut row = db::sessions::ChatSession::sample(status);
    row.created_by_bot_id = None;
    row.created_at = now();
    row.queued_at = now();
    row.assigned_at = row.specialist_id.map(|_| now());
    let specialist = row.specialist_id;
    let visitor = db::visitors::Visitor {
        id: row.visitor_id,
        external_id: None,
        name: Some("Ann".into()),
        email: Some("ann@example.com".into()),
        phone: None,
        created_at: now(),
    };
    Conversation::new(SessionView {
        row,
        visitor,
        specialist_name: specialist.map(|_| "Sam".into()),
        tags: vec![],
    })
}

pub fn active() -> Conversation {
    with_status(SessionStatus::Active)
}

pub fn waiting_conversation() -> Conversation {
    with_status(SessionStatus::Waiting)
}

/// An active conversation with `count` visitor messages, restored as an actor would be.
pub fn with_messages(count: i32) -> Conversation {
    let conversation = active();
    let mut view = conversation.view;
    view.row.last_seq = count;
    let recent = (1..=count)
        .map(|seq| {
            let row = db::messages::Message {
                id: MessageId::new(),
                session_id: view.row.id,
                seq,
                sender_type: ParticipantType::Visitor,
                sender_id: Some(view.row.visitor_id.0),
                kind: MessageKind::Text,
                body: format!("message {seq}"),
                attachment_id: None,
                client_msg_id: Some(format!("k{seq}")),
                created_at: now(),
            };
            Message::from_row(&row, None)
        })
        .collect();
    Conversation::restore(Restored {
        took_part: view.row.specialist_id.into_iter().collect(),
        view,
        keys: vec![],
        recent,
        read: vec![],
    })
}

pub fn visitor_of(conversation: &Conversation) -> Caller {
    Caller::Visitor(conversation.row().visitor_id)
}

pub fn specialist_of(conversation: &Conversation) -> Caller {
    Caller::Specialist(conversation.row().specialist_id.expect("assigned"))
}

pub fn participant(caller: &Caller) -> Participant {
    let kind = match caller {
        Caller::Visitor(_) => ParticipantType::Visitor,
        Caller::Bot(_) => ParticipantType::Bot,
        Caller::Specialist(_) | Caller::Admin(_) => ParticipantType::Specialist,
    };
    Participant {
        kind,
        id: Some(caller.uuid()),
        name: None,
    }
}

pub fn attachment_row(id: AttachmentId, session: SessionId) -> db::attachments::Attachment {
    db::attachments::Attachment {
        id,
        session_id: session,
        uploaded_by: uuid::Uuid::new_v4(),
        file_name: "receipt.pdf".into(),
        content_type: "application/pdf".into(),
        size_bytes: 10,
        sha256: String::new(),
        storage_key: "key".into(),
        created_at: now(),
    }
}

pub fn commit_of(step: Step) -> Decision {
    match step {
        Step::Commit(decision) => decision,
        other => panic!("expected a commit, got {other:?}"),
    }
}

pub fn assert_refused(step: Step, code: ErrorCode) {
    match step {
        Step::Done(effects) => match &effects[..] {
            [super::decision::Effect::Refuse(error)] => assert_eq!(error.code, code, "{error:?}"),
            other => panic!("expected a refusal, got {other:?}"),
        },
        other => panic!("expected a refusal, got {other:?}"),
    }
}
