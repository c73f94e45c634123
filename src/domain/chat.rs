//! The inputs of a conversation, parsed once where they enter (a WebSocket frame or an
//! HTTP body) so the session's rules only ever see values that are already valid. Each
//! type's `parse` is the one place its field is checked. They also (de)serialize, as
//! they are, for a command that one node hands to the node serving its session; that
//! is not a boundary, the sending node parsed them.

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};

use crate::error::{Error, Result};

use super::inputs::{self, optional_text};
use super::AttachmentId;

/// The sender's key for resending a message safely: 1 to 64 characters, none of them a
/// control character (Postgres text cannot hold NUL, and a key is echoed in frames).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ClientMsgId(String);

impl ClientMsgId {
    pub const MAX_CHARS: usize = 64;

    pub fn parse(raw: String) -> Result<ClientMsgId> {
        let chars = raw.chars().count();
        if chars == 0 || chars > Self::MAX_CHARS || raw.chars().any(char::is_control) {
            return Err(Error::bad_request(
                "client_msg_id: 1 to 64 characters, no control characters",
            ));
        }
        Ok(ClientMsgId(raw))
    }

    /// A key the server makes itself (a scheduled message's), trusted as it is.
    pub fn derived(key: String) -> ClientMsgId {
        ClientMsgId(key)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A message body: trimmed, 1 to 4000 characters, line breaks allowed, no NUL.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Body(String);

impl Body {
    pub fn parse(raw: Option<&str>) -> Result<Body> {
        inputs::body_text(raw).map(Body)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// What a message carries: text, or a file with a caption that may be empty.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Content {
    Text(Body),
    File {
        attachment: AttachmentId,
        caption: String,
    },
}

impl Content {
    /// `body` is the text, or the caption when `attachment` is given.
    pub fn parse(body: Option<&str>, attachment: Option<AttachmentId>) -> Result<Content> {
        match attachment {
            Some(attachment) => Ok(Content::File {
                attachment,
                caption: inputs::caption_text(body)?,
            }),
            None => Body::parse(body).map(Content::Text),
        }
    }

    pub fn attachment(&self) -> Option<AttachmentId> {
        match self {
            Content::Text(_) => None,
            Content::File { attachment, .. } => Some(*attachment),
        }
    }

    /// The text stored as the message's body.
    pub fn into_text(self) -> String {
        match self {
            Content::Text(body) => body.into_inner(),
            Content::File { caption, .. } => caption,
        }
    }
}

/// A visitor's rating of an ended conversation: 1 to 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rating(i16);

impl Rating {
    pub fn parse(raw: i64) -> Result<Rating> {
        match i16::try_from(raw) {
            Ok(rating) if (1..=5).contains(&rating) => Ok(Rating(rating)),
            _ => Err(Error::bad_request("rating: 1 to 5")),
        }
    }

    pub fn value(self) -> i16 {
        self.0
    }
}

/// A short free text (an end reason, a rating comment, a transfer note): trimmed, empty
/// means absent, bounded, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Remark(String);

impl Remark {
    pub const REASON_CHARS: usize = 500;
    pub const COMMENT_CHARS: usize = 2000;
    pub const NOTE_CHARS: usize = inputs::MAX_BODY_CHARS;

    pub fn parse(field: &str, raw: Option<&str>, max_chars: usize) -> Result<Option<Remark>> {
        Ok(optional_text(field, raw, max_chars)?.map(Remark))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// What a session was started or handed off with, shown to specialists: a JSON object of
/// at most 16 KiB that Postgres can store (`jsonb` cannot hold `\u0000`).
#[derive(Debug, Clone, PartialEq)]
pub struct Metadata(serde_json::Value);

impl Metadata {
    pub const MAX_BYTES: usize = 16 * 1024;

    pub fn parse(raw: Option<serde_json::Value>) -> Result<Metadata> {
        let metadata = raw.unwrap_or_else(|| serde_json::json!({}));
        if !metadata.is_object()
            || metadata.to_string().len() > Self::MAX_BYTES
            || holds_nul(&metadata)
        {
            return Err(Error::bad_request(
                "metadata: a JSON object of at most 16 KiB, without NUL characters",
            ));
        }
        Ok(Metadata(metadata))
    }

    pub fn into_inner(self) -> serde_json::Value {
        self.0
    }
}

/// Whether any key or string in `value` holds a NUL, which `jsonb` cannot store.
fn holds_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(text) => text.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(holds_nul),
        serde_json::Value::Object(fields) => fields
            .iter()
            .any(|(key, value)| key.contains('\0') || holds_nul(value)),
        _ => false,
    }
}

/// How many messages one `history` request returns: 1 to 200, 50 when not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HistoryLimit(i64);

impl HistoryLimit {
    pub const MAX: i64 = 200;

    pub fn parse(raw: Option<i64>) -> Result<HistoryLimit> {
        let limit = raw.unwrap_or(50);
        if !(1..=Self::MAX).contains(&limit) {
            return Err(Error::bad_request(format!("limit: 1 to {}", Self::MAX)));
        }
        Ok(HistoryLimit(limit))
    }

    pub fn value(self) -> i64 {
        self.0
    }
}

/// When a scheduled message is to be sent: in the future, at most 7 days ahead of the
/// server's clock, and to the microsecond Postgres keeps (so replies show it as stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SendAt(DateTime<Utc>);

impl SendAt {
    pub const MAX_AHEAD: TimeDelta = TimeDelta::days(7);

    pub fn parse(at: DateTime<Utc>, now: DateTime<Utc>) -> Result<SendAt> {
        if at <= now {
            return Err(Error::bad_request("send_at: must be in the future"));
        }
        if at > now + Self::MAX_AHEAD {
            return Err(Error::bad_request(
                "send_at: at most 7 days ahead of the server's clock",
            ));
        }
        Ok(SendAt(at.trunc_subsecs(6)))
    }

    pub fn at(self) -> DateTime<Utc> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn refused<T: std::fmt::Debug>(result: Result<T>) -> ErrorCode {
        result.unwrap_err().code
    }

    #[test]
    fn client_message_ids_are_short_printable_keys() {
        assert_eq!(ClientMsgId::parse("m-1".into()).unwrap().as_str(), "m-1");
        assert_eq!(
            ClientMsgId::parse("é".repeat(64))
                .unwrap()
                .as_str()
                .chars()
                .count(),
            64
        );
        for bad in [
            String::new(),
            "x".repeat(65),
            "a\0b".into(),
            "line\nbreak".into(),
        ] {
            assert_eq!(refused(ClientMsgId::parse(bad)), ErrorCode::BadRequest);
        }
    }

    #[test]
    fn a_body_is_trimmed_text_without_nul() {
        assert_eq!(
            Body::parse(Some("  hi\nthere ")).unwrap().as_str(),
            "hi\nthere"
        );
        for bad in [None, Some("   "), Some("a\0b")] {
            assert_eq!(refused(Body::parse(bad)), ErrorCode::BadRequest, "{bad:?}");
        }
        assert!(Body::parse(Some(&"x".repeat(4000))).is_ok());
        assert!(Body::parse(Some(&"x".repeat(4001))).is_err());
    }

    #[test]
    fn a_file_may_have_an_empty_caption_but_text_may_not_be_empty() {
        let file = AttachmentId::new();
        let content = Content::parse(None, Some(file)).unwrap();
        assert_eq!(content.attachment(), Some(file));
        assert_eq!(content.into_text(), "");
        assert!(Content::parse(None, None).is_err());
        assert!(Content::parse(Some("a\0"), Some(file)).is_err());
    }

    #[test]
    fn ratings_are_one_to_five() {
        assert_eq!(Rating::parse(5).unwrap().value(), 5);
        for bad in [0, 6, -1, 65_541] {
            assert_eq!(refused(Rating::parse(bad)), ErrorCode::BadRequest, "{bad}");
        }
    }

    #[test]
    fn metadata_is_a_small_object_postgres_can_store() {
        assert!(Metadata::parse(None).unwrap().into_inner().is_object());
        let nul = serde_json::json!({ "a": "x\u{0}y" });
        let big = serde_json::json!({ "a": "x".repeat(16 * 1024) });
        for bad in [serde_json::json!([1]), serde_json::json!("text"), nul, big] {
            assert_eq!(refused(Metadata::parse(Some(bad))), ErrorCode::BadRequest);
        }
    }

    #[test]
    fn metadata_may_hold_the_text_of_an_escaped_nul() {
        let written_out = serde_json::json!({ "a": "\\u0000" });
        assert!(Metadata::parse(Some(written_out)).is_ok());
        let nul_key = serde_json::json!({ "a\u{0}": 1 });
        assert!(Metadata::parse(Some(nul_key)).is_err());
    }

    #[test]
    fn remarks_are_optional_bounded_single_lines() {
        assert_eq!(Remark::parse("reason", Some("  "), 10).unwrap(), None);
        assert!(Remark::parse("reason", Some(&"x".repeat(11)), 10).is_err());
        assert!(Remark::parse("reason", Some("a\nb"), 10).is_err());
    }

    #[test]
    fn history_pages_hold_one_to_two_hundred() {
        assert_eq!(HistoryLimit::parse(None).unwrap().value(), 50);
        assert!(HistoryLimit::parse(Some(0)).is_err());
        assert!(HistoryLimit::parse(Some(201)).is_err());
    }

    #[test]
    fn send_at_must_be_in_the_future_and_within_seven_days() {
        let now = Utc::now();
        for refused in [
            now,
            now - TimeDelta::seconds(1),
            now + SendAt::MAX_AHEAD + TimeDelta::seconds(1),
        ] {
            assert_eq!(
                SendAt::parse(refused, now).unwrap_err().code,
                ErrorCode::BadRequest,
                "{refused}"
            );
        }
        for accepted in [now + TimeDelta::seconds(1), now + SendAt::MAX_AHEAD] {
            assert!(SendAt::parse(accepted, now).is_ok(), "{accepted}");
        }
    }
}
