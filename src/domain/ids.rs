//! Id newtypes. A `SessionId` cannot be passed where a `VisitorId` is expected, which
//! matters in a code base where almost every function takes two or three uuids.

use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            Serialize, Deserialize, AsExpression, FromSqlRow, utoipa::ToSchema,
        )]
        #[serde(transparent)]
        #[diesel(sql_type = sql_types::Uuid)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh, time-ordered id (v7 keeps the primary key index append-mostly).
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl ToSql<sql_types::Uuid, Pg> for $name {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                <Uuid as ToSql<sql_types::Uuid, Pg>>::to_sql(&self.0, out)
            }
        }

        impl FromSql<sql_types::Uuid, Pg> for $name {
            fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
                <Uuid as FromSql<sql_types::Uuid, Pg>>::from_sql(bytes).map(Self)
            }
        }
    };
}

id_type!(
    /// A website visitor.
    VisitorId
);
id_type!(
    /// A human specialist (or admin) who answers chats.
    SpecialistId
);
id_type!(
    /// A bot that hands conversations over through the HTTP API.
    BotId
);
id_type!(
    /// One conversation.
    SessionId
);
id_type!(
    /// One stored message.
    MessageId
);
id_type!(
    /// One uploaded file.
    AttachmentId
);
id_type!(
    /// A canned response: a specialist's own or a shared one.
    CannedResponseId
);
id_type!(
    /// One message scheduled by a specialist for later.
    ScheduledId
);
id_type!(
    /// A webhook subscription.
    WebhookId
);
id_type!(
    /// One event in the webhook outbox; receivers dedupe deliveries by it.
    WebhookEventId
);
