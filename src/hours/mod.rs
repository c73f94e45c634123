//! Business hours (SPEC section 14): when a chat can start. Admins set a weekly
//! schedule in a time zone, with closed dates, for the whole site and per skill;
//! outside those hours the widget offers to leave a message and `session.start` is
//! refused. With no schedule stored the chat is always open.
//!
//! - `schedule`: the document admins write, parsed once into valid [`BusinessHours`].
//! - `openness`: the pure rules: open now, and when next, for the skills asked.
//! - `cache`: the copy every request reads, kept fresh from Postgres for the cluster.

mod cache;
mod openness;
mod schedule;

pub use cache::Hours;
pub use openness::Openness;
pub use schedule::{BusinessHours, BusinessHoursDoc, SkillHoursDoc, WeeklyDoc};

use chrono::{DateTime, SecondsFormat, Utc};

use crate::error::Error;

/// The refusal of a chat asked for outside business hours: a `conflict` saying when it
/// opens, so a client that did not ask `/availability` first can still tell its visitor.
pub fn refusal(next_open_at: Option<DateTime<Utc>>) -> Error {
    match next_open_at {
        Some(at) => Error::conflict(format!(
            "the chat is closed; it opens at {}",
            at.to_rfc3339_opts(SecondsFormat::Secs, true)
        )),
        None => Error::conflict("the chat is closed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn a_refusal_is_a_conflict_saying_when_the_chat_opens() {
        let at = DateTime::parse_from_rfc3339("2026-12-04T08:00:00Z").unwrap();
        let error = refusal(Some(at.to_utc()));
        assert_eq!(error.code, ErrorCode::Conflict);
        assert_eq!(
            error.message,
            "the chat is closed; it opens at 2026-12-04T08:00:00Z"
        );
        assert_eq!(refusal(None).message, "the chat is closed");
    }
}
