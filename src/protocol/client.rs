//! Frames a client sends. Parsing happens in two steps so that a frame that is broken in
//! any way other than its `ref` still gets an error carrying that `ref`.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::domain::{AttachmentId, Priority, ScheduledId, SessionId, SpecialistId};
use crate::error::Error;

/// Longest `ref` a client may attach to a request.
pub const MAX_REF_CHARS: usize = 64;

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type")]
pub enum Request {
    #[serde(rename = "message.send")]
    MessageSend {
        session_id: SessionId,
        client_msg_id: String,
        #[serde(default)]
        body: Option<String>,
        #[serde(default)]
        attachment_id: Option<AttachmentId>,
        #[serde(default)]
        send_at: Option<DateTime<Utc>>,
    },
    #[serde(rename = "message.unschedule")]
    MessageUnschedule { scheduled_id: ScheduledId },
    #[serde(rename = "typing")]
    Typing {
        session_id: SessionId,
        is_typing: bool,
    },
    #[serde(rename = "read")]
    Read { session_id: SessionId, seq: i32 },
    #[serde(rename = "session.resume")]
    SessionResume {
        session_id: SessionId,
        after_seq: i32,
    },
    #[serde(rename = "history")]
    History {
        session_id: SessionId,
        #[serde(default)]
        before_seq: Option<i32>,
        #[serde(default)]
        limit: Option<i64>,
    },
    #[serde(rename = "session.end")]
    SessionEnd {
        session_id: SessionId,
        #[serde(default)]
        reason: Option<String>,
    },
    #[serde(rename = "ping")]
    Ping,
    #[serde(rename = "session.start")]
    SessionStart(SessionStart),
    #[serde(rename = "message.leave")]
    MessageLeave(LeaveMessage),
    #[serde(rename = "session.rate")]
    SessionRate {
        session_id: SessionId,
        rating: i64,
        #[serde(default)]
        comment: Option<String>,
    },
    #[serde(rename = "status.set")]
    StatusSet { status: SpecialistStatus },
    #[serde(rename = "offer.accept")]
    OfferAccept { offer_id: uuid::Uuid },
    #[serde(rename = "offer.decline")]
    OfferDecline { offer_id: uuid::Uuid },
    #[serde(rename = "session.transfer")]
    SessionTransfer {
        session_id: SessionId,
        #[serde(default)]
        to_specialist_id: Option<SpecialistId>,
        #[serde(default)]
        skills: Option<Vec<String>>,
        #[serde(default)]
        note: Option<String>,
    },
    #[serde(rename = "session.pickup")]
    SessionPickup { session_id: SessionId },
    #[serde(rename = "note.add")]
    NoteAdd { session_id: SessionId, body: String },
    #[serde(rename = "queue.watch")]
    QueueWatch,
    #[serde(rename = "queue.unwatch")]
    QueueUnwatch,
    #[serde(rename = "session.tag")]
    SessionTag {
        session_id: SessionId,
        tags: Vec<String>,
    },
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SessionStart {
    #[serde(default)]
    pub intent: Option<String>,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub skills: Option<Vec<String>>,
    #[serde(default)]
    pub priority: Option<Priority>,
    #[serde(default)]
    pub page_url: Option<String>,
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
}

/// A message left for when someone can answer (SPEC section 14).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LeaveMessage {
    /// The visitor's own waiting session, which leaves the queue.
    #[serde(default)]
    pub session_id: Option<SessionId>,
    pub email: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub callback: Option<bool>,
    pub body: String,
}

/// A specialist's availability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpecialistStatus {
    Online,
    Away,
    Offline,
}

impl Request {
    /// The frame name, for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Request::MessageSend { .. } => "message.send",
            Request::MessageUnschedule { .. } => "message.unschedule",
            Request::Typing { .. } => "typing",
            Request::Read { .. } => "read",
            Request::SessionResume { .. } => "session.resume",
            Request::History { .. } => "history",
            Request::SessionEnd { .. } => "session.end",
            Request::Ping => "ping",
            Request::SessionStart(_) => "session.start",
            Request::MessageLeave(_) => "message.leave",
            Request::SessionRate { .. } => "session.rate",
            Request::StatusSet { .. } => "status.set",
            Request::OfferAccept { .. } => "offer.accept",
            Request::OfferDecline { .. } => "offer.decline",
            Request::SessionTransfer { .. } => "session.transfer",
            Request::SessionPickup { .. } => "session.pickup",
            Request::NoteAdd { .. } => "note.add",
            Request::QueueWatch => "queue.watch",
            Request::QueueUnwatch => "queue.unwatch",
            Request::SessionTag { .. } => "session.tag",
        }
    }
}

/// Every frame name a client may send, as [`Request::name`] spells them.
pub const REQUEST_NAMES: [&str; 20] = [
    "message.send",
    "message.unschedule",
    "typing",
    "read",
    "session.resume",
    "history",
    "session.end",
    "ping",
    "session.start",
    "message.leave",
    "session.rate",
    "status.set",
    "offer.accept",
    "offer.decline",
    "session.transfer",
    "session.pickup",
    "note.add",
    "queue.watch",
    "queue.unwatch",
    "session.tag",
];

/// A text frame after parsing: its `ref` (when valid), the name of the request its
/// `type` names (even when the rest is broken, so who may not send it at all is told
/// so first), and the request or why it failed.
#[derive(Debug)]
pub struct ParsedFrame {
    pub reference: Option<String>,
    pub name: Option<&'static str>,
    pub request: Result<Request, Error>,
}

#[derive(Deserialize)]
struct RefOnly {
    #[serde(rename = "ref", default)]
    reference: Option<serde_json::Value>,
    #[serde(rename = "type", default)]
    kind: Option<serde_json::Value>,
}

pub fn parse(text: &str) -> ParsedFrame {
    let envelope: RefOnly = match serde_json::from_str(text) {
        Ok(envelope) => envelope,
        Err(e) => {
            return ParsedFrame {
                reference: None,
                name: None,
                request: Err(Error::bad_request(format!("not a JSON object: {e}"))),
            }
        }
    };
    let reference = match envelope.reference {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(r)) if r.chars().count() <= MAX_REF_CHARS => Some(r),
        Some(_) => {
            return ParsedFrame {
                reference: None,
                name: None,
                request: Err(Error::bad_request(format!(
                    "ref: a string of at most {MAX_REF_CHARS} characters"
                ))),
            }
        }
    };
    if envelope.kind.is_none() {
        return ParsedFrame {
            reference,
            name: None,
            request: Err(Error::bad_request("missing field `type`")),
        };
    }
    let name = match &envelope.kind {
        Some(serde_json::Value::String(kind)) => {
            REQUEST_NAMES.iter().copied().find(|name| name == kind)
        }
        _ => None,
    };
    let request =
        serde_json::from_str::<Request>(text).map_err(|e| Error::bad_request(e.to_string()));
    ParsedFrame {
        reference,
        name,
        request,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn every_request_name_is_a_frame_type_the_parser_knows() {
        for name in REQUEST_NAMES {
            let frame = parse(&format!(r#"{{"type":"{name}"}}"#));
            assert_eq!(frame.name, Some(name));
            if let Err(error) = frame.request {
                assert!(
                    !error.message.contains("unknown variant"),
                    "{name}: {error:?}"
                );
            }
        }
        assert_eq!(parse(r#"{"type":"nope"}"#).name, None);
    }

    #[test]
    fn a_valid_frame_parses_with_its_ref() {
        let frame = parse(
            r#"{"type":"read","ref":"r1","session_id":"0190b1a2-0000-7000-8000-000000000000","seq":4}"#,
        );
        assert_eq!(frame.reference.as_deref(), Some("r1"));
        assert!(matches!(frame.request, Ok(Request::Read { seq: 4, .. })));
    }

    #[test]
    fn broken_frames_keep_their_ref_and_say_what_is_wrong() {
        for text in [
            r#"{"type":"nope","ref":"a"}"#,
            r#"{"type":"read","ref":"a"}"#,
            r#"{"type":"read","ref":"a","session_id":"x","seq":1}"#,
            r#"{"type":"typing","ref":"a","session_id":"0190b1a2-0000-7000-8000-000000000000","is_typing":"yes"}"#,
            r#"{"ref":"a"}"#,
        ] {
            let frame = parse(text);
            assert_eq!(frame.reference.as_deref(), Some("a"), "{text}");
            assert_eq!(
                frame.request.unwrap_err().code,
                ErrorCode::BadRequest,
                "{text}"
            );
        }
    }

    #[test]
    fn non_json_and_bad_refs_are_refused_without_a_ref() {
        for text in [
            "hello",
            "[1,2]",
            &format!(r#"{{"type":"ping","ref":"{}"}}"#, "x".repeat(65)),
            r#"{"type":"ping","ref":7}"#,
        ] {
            let frame = parse(text);
            assert!(frame.reference.is_none(), "{text}");
            assert!(frame.request.is_err(), "{text}");
        }
    }
}
