//! Mail to visitors (SPEC section 14): a specialist's reply to a visitor who left a
//! message, and a conversation's transcript on the visitor's request.
//!
//! A mail is composed as plain data ([`Mail`], `compose`), written to an outbox table
//! in the transaction of the change that causes it (`outbox`), and sent over SMTP after
//! the commit by a sender on a thread of its own (`sender`), so a slow or absent mail
//! server never delays the chat. What goes on the wire is built in one place
//! (`message`), where the visitor's and the specialist's words are kept out of the
//! headers. `request` holds the rules for a visitor's transcript request, `settings`
//! the two settings (`SWITCHBOARD_SMTP_URL`, `SWITCHBOARD_MAIL_FROM`).

pub mod compose;
pub mod message;
pub mod outbox;
pub mod request;
pub mod sender;
pub mod settings;

use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;
use serde::Serialize;

use crate::domain::inputs::Email;
use crate::domain::SessionId;

/// Why a mail is sent.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema, AsExpression, FromSqlRow,
)]
#[serde(rename_all = "snake_case")]
#[diesel(sql_type = Text)]
pub enum MailKind {
    /// A specialist's answer to a message the visitor left.
    Reply,
    /// The whole conversation, which the visitor asked for.
    Transcript,
}

impl MailKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::Reply => "reply",
            MailKind::Transcript => "transcript",
        }
    }
}

impl ToSql<Text, Pg> for MailKind {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <str as ToSql<Text, Pg>>::to_sql(self.as_str(), out)
    }
}

impl FromSql<Text, Pg> for MailKind {
    fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
        match std::str::from_utf8(bytes.as_bytes())? {
            "reply" => Ok(MailKind::Reply),
            "transcript" => Ok(MailKind::Transcript),
            other => Err(format!("unknown mail kind `{other}`").into()),
        }
    }
}

/// One mail to a visitor, before it is written to the outbox.
#[derive(Debug, Clone)]
pub struct Mail {
    pub session: SessionId,
    pub kind: MailKind,
    pub to: Email,
    pub to_name: Option<String>,
    pub subject: String,
    /// Plain text.
    pub body: String,
}
