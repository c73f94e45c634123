//! Parse, don't validate: input that crossed the boundary as one of these types has
//! already been checked, so nothing past the HTTP or WebSocket layer re-checks it.

use crate::error::{Error, Result};

/// An e-mail address, trimmed and lower-cased so that logins are case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Email> {
        let email = raw.trim().to_lowercase();
        let valid = email.len() <= 254
            && !email.chars().any(|c| c.is_whitespace() || c.is_control())
            && email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains('@')
            });
        if valid {
            Ok(Email(email))
        } else {
            Err(Error::bad_request("email: not a valid e-mail address"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// Optional free text (a name, a phone number): trimmed, empty means absent, bounded.
pub fn optional_text(field: &str, raw: Option<&str>, max_chars: usize) -> Result<Option<String>> {
    let Some(text) = raw.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if text.chars().count() > max_chars || text.chars().any(char::is_control) {
        return Err(Error::bad_request(format!(
            "{field}: at most {max_chars} characters, no control characters"
        )));
    }
    Ok(Some(text.to_owned()))
}

/// Required free text, same rules as [`optional_text`].
pub fn required_text(field: &str, raw: &str, max_chars: usize) -> Result<String> {
    optional_text(field, Some(raw), max_chars)?
        .ok_or_else(|| Error::bad_request(format!("{field}: must not be empty")))
}

/// Longest message body (and canned response), in characters after trimming.
pub const MAX_BODY_CHARS: usize = 4000;

/// A message body: trimmed, 1 to 4000 characters; line breaks allowed.
pub fn body_text(raw: Option<&str>) -> Result<String> {
    let body = raw.map(str::trim).unwrap_or_default();
    let chars = body.chars().count();
    if chars == 0 || chars > MAX_BODY_CHARS {
        return Err(Error::bad_request(format!(
            "body: 1 to {MAX_BODY_CHARS} characters"
        )));
    }
    // Postgres text cannot hold NUL.
    if body.contains('\0') {
        return Err(Error::bad_request("body: no NUL characters"));
    }
    Ok(body.to_owned())
}

/// A file's caption: trimmed, at most 4000 characters, possibly empty.
pub fn caption_text(raw: Option<&str>) -> Result<String> {
    let caption = raw.map(str::trim).unwrap_or_default();
    if caption.chars().count() > MAX_BODY_CHARS || caption.contains('\0') {
        return Err(Error::bad_request(format!(
            "body: at most {MAX_BODY_CHARS} characters, no NUL"
        )));
    }
    Ok(caption.to_owned())
}

/// The alphabet of skills, tags and shortcuts: `[a-z0-9_-]`.
fn label_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-'
}

/// Skill labels (`billing`, `tier-2`): lower-case `[a-z0-9_-]{1,32}`, deduplicated.
pub fn skills(field: &str, raw: &[String]) -> Result<Vec<String>> {
    labels(field, raw, label_char)
}

/// Most tags a session may carry (SPEC section 10).
pub const MAX_SESSION_TAGS: usize = 20;

/// A session's tags: skill-like labels, lower-cased, deduplicated, at most 20, sorted so
/// every client shows them in the same order.
pub fn session_tags(raw: &[String]) -> Result<Vec<String>> {
    let mut tags = skills("tags", raw)?;
    if tags.len() > MAX_SESSION_TAGS {
        return Err(Error::bad_request(format!(
            "tags: at most {MAX_SESSION_TAGS} tags"
        )));
    }
    tags.sort();
    Ok(tags)
}

/// A canned response's shortcut: one label of the same alphabet as skills, as typed.
pub fn shortcut(raw: &str) -> Result<String> {
    label("shortcut", raw.trim())
}

/// One tag to filter by, lower-cased like the stored ones.
pub fn tag(raw: &str) -> Result<String> {
    label("tag", &raw.to_lowercase())
}

fn label(field: &str, raw: &str) -> Result<String> {
    if (1..=32).contains(&raw.len()) && raw.chars().all(label_char) {
        Ok(raw.to_owned())
    } else {
        Err(Error::bad_request(format!(
            "{field}: 1 to 32 of a-z, 0-9, _ and -"
        )))
    }
}

/// Language tags (`en`, `pt-br`): lower-case letters and `-`, up to 32 characters.
pub fn languages(field: &str, raw: &[String]) -> Result<Vec<String>> {
    labels(field, raw, |c| c.is_ascii_lowercase() || c == '-')
}

fn labels(field: &str, raw: &[String], allowed: impl Fn(char) -> bool) -> Result<Vec<String>> {
    if raw.len() > 50 {
        return Err(Error::bad_request(format!("{field}: at most 50 entries")));
    }
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for label in raw {
        let label = label.trim().to_lowercase();
        if label.is_empty() || label.len() > 32 || !label.chars().all(&allowed) {
            return Err(Error::bad_request(format!(
                "{field}: `{label}` is not a valid label"
            )));
        }
        if !out.contains(&label) {
            out.push(label);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_lower_cased_and_checked() {
        assert_eq!(tag("VIP").unwrap(), "vip");
        assert!(tag("").is_err());
        assert!(tag("no spaces").is_err());
        assert!(tag(&"x".repeat(33)).is_err());
    }

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            Email::parse(" Ann@Example.COM ").unwrap().into_inner(),
            "ann@example.com"
        );
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "a b@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn labels_are_lower_cased_deduplicated_and_restricted() {
        let raw = vec![
            "Billing".to_owned(),
            "billing".to_owned(),
            "tier-2".to_owned(),
        ];
        assert_eq!(skills("skills", &raw).unwrap(), vec!["billing", "tier-2"]);
        assert!(skills("skills", &["no spaces".to_owned()]).is_err());
        assert!(languages("languages", &["en1".to_owned()]).is_err());
    }

    #[test]
    fn session_tags_are_sorted_deduplicated_and_at_most_twenty() {
        let raw = vec!["VIP".to_owned(), "billing".to_owned(), "vip".to_owned()];
        assert_eq!(session_tags(&raw).unwrap(), vec!["billing", "vip"]);
        let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
        assert!(session_tags(&many).is_err());
        let repeated: Vec<String> = (0..30).map(|i| format!("t{}", i % 20)).collect();
        assert_eq!(session_tags(&repeated).unwrap().len(), 20);
        assert!(session_tags(&["x".repeat(33)]).is_err());
        assert!(session_tags(&["a b".to_owned()]).is_err());
    }
}
