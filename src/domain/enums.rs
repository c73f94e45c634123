//! Enumerations stored as text in Postgres (with CHECK constraints) and spelled in
//! snake_case on the wire. The macro gives each one the same four faces: serde, diesel,
//! `as_str` and `FromStr`, so no code ever compares status strings by hand.

use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;
use serde::{Deserialize, Serialize};

macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize,
            AsExpression, FromSqlRow, utoipa::ToSchema,
        )]
        #[diesel(sql_type = Text)]
        // Equal to the per-variant names; spelled out for the OpenAPI schema, which does
        // not see renames that come in through macro arguments.
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!(
                        "unknown {} `{other}`",
                        stringify!($name).to_lowercase()
                    )),
                }
            }
        }

        impl ToSql<Text, Pg> for $name {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                <str as ToSql<Text, Pg>>::to_sql(self.as_str(), out)
            }
        }

        impl FromSql<Text, Pg> for $name {
            fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
                let text = std::str::from_utf8(bytes.as_bytes())?;
                Ok(text.parse()?)
            }
        }
    };
}

text_enum!(
    /// What a token holder is. Admins are specialists with extra rights.
    Role {
        Visitor => "visitor",
        Specialist => "specialist",
        Admin => "admin",
        Bot => "bot",
    }
);

text_enum!(
    /// Lifecycle of a conversation: waiting → active → ended, or waiting → abandoned; a
    /// message left while nobody could answer is `offline` until its visitor comes back
    /// to a reply (→ active) or it ends.
    SessionStatus {
        Waiting => "waiting",
        Active => "active",
        Ended => "ended",
        Abandoned => "abandoned",
        Offline => "offline",
    }
);

text_enum!(
    /// Queue priority. Declared lowest first so that the derived order is the queue order.
    Priority {
        Low => "low",
        Medium => "medium",
        High => "high",
        Urgent => "urgent",
    }
);

text_enum!(
    /// Who wrote a message, ended a session or reads a conversation.
    ParticipantType {
        Visitor => "visitor",
        Specialist => "specialist",
        Bot => "bot",
        System => "system",
    }
);

text_enum!(
    /// What a message is. Notes are for specialists only.
    MessageKind {
        Text => "text",
        File => "file",
        System => "system",
        Note => "note",
    }
);

text_enum!(
    /// Entries of the append-only audit trail of a session.
    SessionEvent {
        Queued => "queued",
        Offered => "offered",
        OfferDeclined => "offer_declined",
        OfferExpired => "offer_expired",
        Assigned => "assigned",
        Transferred => "transferred",
        Ended => "ended",
        Abandoned => "abandoned",
        Rated => "rated",
        LeftMessage => "left_message",
        Returned => "returned",
    }
);

text_enum!(
    /// Where a scheduled message stands: waiting for its time, sent, or not to be sent.
    ScheduledState {
        Pending => "pending",
        Sent => "sent",
        Cancelled => "cancelled",
    }
);

impl SessionStatus {
    /// Not ended: the visitor's one conversation, which `session.start` hands back.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            SessionStatus::Waiting | SessionStatus::Active | SessionStatus::Offline
        )
    }
}

impl Priority {
    /// Rank in the queue: a higher rank is served first.
    pub fn rank(self) -> u8 {
        match self {
            Priority::Low => 0,
            Priority::Medium => 1,
            Priority::High => 2,
            Priority::Urgent => 3,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip_through_their_text() {
        for status in SessionStatus::ALL {
            assert_eq!(status.as_str().parse::<SessionStatus>(), Ok(*status));
        }
        assert!("urgentish".parse::<Priority>().is_err());
    }

    #[test]
    fn priority_rank_follows_urgency() {
        assert!(Priority::Urgent.rank() > Priority::High.rank());
        assert!(Priority::High.rank() > Priority::Medium.rank());
        assert!(Priority::Medium.rank() > Priority::Low.rank());
    }
}
