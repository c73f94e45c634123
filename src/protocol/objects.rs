//! Wire objects shared by HTTP and WebSocket.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::db::{self, sessions::SessionView};
use crate::domain::{BotId, Role, SpecialistId, VisitorId};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Visitor {
    pub id: VisitorId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<db::visitors::Visitor> for Visitor {
    fn from(row: db::visitors::Visitor) -> Self {
        Self {
            id: row.id,
            name: row.name,
            email: row.email,
            external_id: row.external_id,
            created_at: row.created_at,
        }
    }
}

/// A specialist as seen by themselves and by admins; never carries the password hash.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Specialist {
    pub id: SpecialistId,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub skills: Vec<String>,
    pub languages: Vec<String>,
    pub max_concurrent_chats: i32,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub disabled: bool,
}

impl From<db::specialists::Specialist> for Specialist {
    fn from(row: db::specialists::Specialist) -> Self {
        Self {
            id: row.id,
            email: row.email,
            name: row.name,
            role: row.role,
            skills: row.skills,
            languages: row.languages,
            max_concurrent_chats: row.max_concurrent_chats,
            created_at: row.created_at,
            last_seen_at: row.last_seen_at,
            disabled: row.disabled_at.is_some(),
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Bot {
    pub id: BotId,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub revoked: bool,
}

impl From<db::bots::Bot> for Bot {
    fn from(row: db::bots::Bot) -> Self {
        Self {
            id: row.id,
            name: row.name,
            created_at: row.created_at,
            revoked: row.revoked_at.is_some(),
        }
    }
}

/// Who sent a message, ended a session, is typing or has read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Participant {
    #[serde(rename = "type")]
    pub kind: crate::domain::ParticipantType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<uuid::Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Attachment {
    pub id: crate::domain::AttachmentId,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Message {
    pub id: crate::domain::MessageId,
    pub session_id: crate::domain::SessionId,
    pub seq: i32,
    pub sender: Participant,
    pub kind: crate::domain::MessageKind,
    pub body: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachment: Option<Attachment>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_msg_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<&db::attachments::Attachment> for Attachment {
    fn from(row: &db::attachments::Attachment) -> Self {
        Self {
            id: row.id,
            file_name: row.file_name.clone(),
            content_type: row.content_type.clone(),
            size_bytes: row.size_bytes,
            url: format!("/api/v1/attachments/{}", row.id),
        }
    }
}

impl Message {
    /// A message as loaded by `db::messages::page`, with its attachment if it has one.
    pub fn from_stored((row, name, file): &db::messages::Named) -> Message {
        Message {
            attachment: file.as_ref().map(Attachment::from),
            ..Message::from_row(row, name.clone())
        }
    }

    pub fn from_row(row: &db::messages::Message, sender_name: Option<String>) -> Message {
        Message {
            id: row.id,
            session_id: row.session_id,
            seq: row.seq,
            sender: Participant {
                kind: row.sender_type,
                id: row.sender_id,
                name: sender_name,
            },
            kind: row.kind,
            body: row.body.clone(),
            attachment: None,
            client_msg_id: row.client_msg_id.clone(),
            created_at: row.created_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionVisitor {
    pub id: VisitorId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// For specialists and admins only, like the e-mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionSpecialist {
    pub id: SpecialistId,
    pub name: String,
}

/// A conversation as a client sees it. Built by [`Session::for_audience`], which leaves
/// out what the audience may not see.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Session {
    pub id: crate::domain::SessionId,
    pub number: String,
    pub status: crate::domain::SessionStatus,
    pub priority: crate::domain::Priority,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    pub skills: Vec<String>,
    pub visitor: SessionVisitor,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub specialist: Option<SessionSpecialist>,
    pub created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_response_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_reason: Option<String>,
    pub last_seq: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rating: Option<i16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
    /// Sorted; for specialists and admins only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// When the conversation was archived; for specialists and admins only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archived_at: Option<DateTime<Utc>>,
    /// The visitor who left a message asked to be called back; for specialists and
    /// admins only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback: Option<bool>,
    /// When the visitor left a message instead of waiting for a chat; for specialists
    /// and admins only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_message_at: Option<DateTime<Utc>>,
    /// The conversation so far; only in offers, so the specialist sees the bot's part.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transcript: Option<Vec<Message>>,
}

/// Who a session object is for: staff see the visitor's e-mail and the metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Visitor,
    Staff,
    Bot,
}

impl Audience {
    pub fn of(role: Role) -> Audience {
        match role {
            Role::Visitor => Audience::Visitor,
            Role::Specialist | Role::Admin => Audience::Staff,
            Role::Bot => Audience::Bot,
        }
    }
}

impl Session {
    pub fn for_audience(view: &SessionView, audience: Audience) -> Session {
        let row = &view.row;
        let staff = audience == Audience::Staff;
        Session {
            id: row.id,
            number: db::sessions::display_number(row.number),
            status: row.status,
            priority: row.priority,
            intent: row.intent.clone(),
            language: row.language.clone(),
            skills: row.skills.clone(),
            visitor: SessionVisitor {
                id: view.visitor.id,
                name: view.visitor.name.clone(),
                email: if staff {
                    view.visitor.email.clone()
                } else {
                    None
                },
                phone: view.visitor.phone.clone().filter(|_| staff),
            },
            specialist: row.specialist_id.map(|id| SessionSpecialist {
                id,
                name: view.specialist_name.clone().unwrap_or_default(),
            }),
            created_at: row.created_at,
            assigned_at: row.assigned_at,
            first_response_at: row.first_response_at,
            ended_at: row.ended_at,
            end_reason: row.end_reason.clone(),
            last_seq: row.last_seq,
            rating: row.rating,
            metadata: if staff {
                Some(row.metadata.clone())
            } else {
                None
            },
            tags: staff.then(|| view.tags.clone()),
            archived_at: row.archived_at.filter(|_| staff),
            callback: (staff && row.callback_requested).then_some(true),
            left_message_at: row.left_message_at.filter(|_| staff),
            transcript: None,
        }
    }
}

/// A scheduled message as listed to the session's specialists and admins.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ScheduledMessage {
    pub id: crate::domain::ScheduledId,
    pub body: String,
    pub send_at: DateTime<Utc>,
    pub state: crate::domain::ScheduledState,
}

impl From<db::scheduled_messages::ScheduledMessage> for ScheduledMessage {
    fn from(row: db::scheduled_messages::ScheduledMessage) -> Self {
        Self {
            id: row.id,
            body: row.body,
            send_at: row.send_at,
            state: row.state,
        }
    }
}
