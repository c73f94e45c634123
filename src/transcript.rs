//! A whole conversation as a document: JSON for programs, plain text for e-mails and
//! tickets, and a self-contained HTML page (inline style, no scripts, nothing loaded from
//! elsewhere) for people. Message content is always escaped, never interpreted.

use std::fmt::Write;

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{MessageKind, ParticipantType};
use crate::protocol::objects::{Message, Session};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Json,
    Text,
    Html,
}

/// The JSON form of a transcript, as the API document describes it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Transcript {
    pub session: Session,
    pub messages: Vec<Message>,
}

/// Writes a transcript piece by piece: its head, each page of messages as it is read,
/// then its tail, so a long conversation is never held whole in memory.
pub struct Renderer {
    format: Format,
    /// Whether a message has been written (JSON separates them with commas).
    started: bool,
}

impl Renderer {
    pub fn new(format: Format) -> Renderer {
        Renderer {
            format,
            started: false,
        }
    }

    pub fn content_type(&self) -> &'static str {
        match self.format {
            Format::Json => "application/json",
            Format::Text => "text/plain; charset=utf-8",
            Format::Html => "text/html; charset=utf-8",
        }
    }

    pub fn head(&self, session: &Session) -> String {
        match self.format {
            Format::Json => {
                let session = serde_json::to_string(session).unwrap_or_else(|_| "null".into());
                format!("{{\"session\":{session},\"messages\":[")
            }
            Format::Text => format!("Conversation {} ({})\n\n", session.number, session.status),
            Format::Html => {
                let title = escape(&format!("Conversation {}", session.number));
                format!(
                    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
                     <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
                     <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
                     <h1>{title}</h1>\n<p class=\"meta\">Status: {}</p>\n<ol>\n",
                    escape(session.status.as_str())
                )
            }
        }
    }

    pub fn messages(&mut self, messages: &[Message]) -> String {
        let mut out = String::new();
        for message in messages {
            match self.format {
                Format::Json => {
                    if self.started {
                        out.push(',');
                    }
                    if let Ok(json) = serde_json::to_string(message) {
                        out.push_str(&json);
                    }
                }
                Format::Text => {
                    let _ = writeln!(
                        out,
                        "[{}] {}: {}",
                        message.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
                        author(message),
                        content(message)
                    );
                }
                Format::Html => {
                    let _ = writeln!(
                        out,
                        "<li class=\"{}\" data-seq=\"{}\"><span class=\"who\">{}</span> \
                         <time datetime=\"{}\">{}</time><p>{}</p></li>",
                        message.sender.kind,
                        message.seq,
                        escape(&author(message)),
                        message.created_at.to_rfc3339(),
                        message.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
                        escape(&content(message))
                    );
                }
            }
            self.started = true;
        }
        out
    }

    pub fn tail(&self) -> &'static str {
        match self.format {
            Format::Json => "]}",
            Format::Text => "",
            Format::Html => "</ol>\n</body>\n</html>\n",
        }
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:48rem;margin:1rem auto;\
padding:0 1rem;color:#222}ol{list-style:none;padding:0}li{margin:.6rem 0;padding:.5rem .8rem;\
border-radius:.5rem;background:#f1f3f5}li.visitor{background:#e7f1ff}li.system{background:none;\
color:#666;font-style:italic}li.note{background:#fff4d6}.who{font-weight:600}time{color:#777;\
font-size:.85em;margin-left:.5rem}p{margin:.3rem 0 0;white-space:pre-wrap;overflow-wrap:anywhere}\
.meta{color:#666}";

fn author(message: &Message) -> String {
    let role = match message.kind {
        MessageKind::Note => "note",
        _ => message.sender.kind.as_str(),
    };
    match (&message.sender.name, message.sender.kind) {
        (_, ParticipantType::System) => "System".to_owned(),
        (Some(name), _) => format!("{name} ({role})"),
        (None, _) => role.to_owned(),
    }
}

fn content(message: &Message) -> String {
    match &message.attachment {
        Some(file) if message.body.is_empty() => format!("[file: {}]", file.file_name),
        Some(file) => format!("{} [file: {}]", message.body, file.file_name),
        None => message.body.clone(),
    }
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_escaped() {
        assert_eq!(
            escape("<script>alert('x') & \"y\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
        );
    }

    #[test]
    fn a_json_transcript_written_in_pieces_is_one_document() {
        use crate::domain::{MessageId, SessionId};
        use crate::protocol::objects::Participant;
        let message = |seq| Message {
            id: MessageId::new(),
            session_id: SessionId::new(),
            seq,
            sender: Participant {
                kind: ParticipantType::Visitor,
                id: None,
                name: Some("Ann".into()),
            },
            kind: MessageKind::Text,
            body: format!("line {seq}"),
            attachment: None,
            client_msg_id: None,
            created_at: chrono::Utc::now(),
        };
        let mut renderer = Renderer::new(Format::Json);
        let mut document = String::from("{\"session\":null,\"messages\":[");
        document.push_str(&renderer.messages(&[message(1), message(2)]));
        document.push_str(&renderer.messages(&[]));
        document.push_str(&renderer.messages(&[message(3)]));
        document.push_str(renderer.tail());
        let parsed: serde_json::Value = serde_json::from_str(&document).expect("valid JSON");
        let seqs: Vec<i64> = parsed["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["seq"].as_i64().unwrap())
            .collect();
        assert_eq!(seqs, vec![1, 2, 3]);
    }
}
