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

#[derive(Debug, Serialize, ToSchema)]
pub struct Transcript {
    pub session: Session,
    pub messages: Vec<Message>,
}

impl Transcript {
    pub fn text(&self) -> String {
        let mut out = format!(
            "Conversation {} ({})\n\n",
            self.session.number, self.session.status
        );
        for message in &self.messages {
            let _ = writeln!(
                out,
                "[{}] {}: {}",
                message.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
                author(message),
                content(message)
            );
        }
        out
    }

    pub fn html(&self) -> String {
        let title = escape(&format!("Conversation {}", self.session.number));
        let mut out = format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
             <h1>{title}</h1>\n<p class=\"meta\">Status: {}</p>\n<ol>\n",
            escape(self.session.status.as_str())
        );
        for message in &self.messages {
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
        out.push_str("</ol>\n</body>\n</html>\n");
        out
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
}
