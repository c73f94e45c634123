//! Filling in a canned response for one conversation: `{{visitor.name}}`,
//! `{{specialist.name}}` and `{{session.number}}` become that session's values. A pure
//! function over the text, so the rules are tested without a server: a value the session
//! does not have (yet) becomes empty, and any other `{{…}}` is left exactly as written,
//! since it may be text the specialist meant literally.

/// The values a canned response can refer to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placeholders {
    pub visitor_name: Option<String>,
    /// The session's assigned specialist.
    pub specialist_name: Option<String>,
    /// `CHAT-00000042`.
    pub session_number: String,
}

impl Placeholders {
    fn value(&self, name: &str) -> Option<&str> {
        match name {
            "visitor.name" => Some(self.visitor_name.as_deref().unwrap_or_default()),
            "specialist.name" => Some(self.specialist_name.as_deref().unwrap_or_default()),
            "session.number" => Some(&self.session_number),
            _ => None,
        }
    }
}

/// `body` with every known placeholder replaced. Spaces just inside the braces are
/// allowed (`{{ visitor.name }}`); the values themselves are inserted as they are and
/// never scanned again.
pub fn render(body: &str, values: &Placeholders) -> String {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after_open = &rest[start + 2..];
        let Some(end) = after_open.find("}}") else {
            rest = &rest[start..];
            break;
        };
        match values.value(after_open[..end].trim()) {
            Some(value) => {
                out.push_str(value);
                rest = &after_open[end + 2..];
            }
            None => {
                // Unknown: keep the opening braces and go on scanning after them, so a
                // known placeholder right behind (`{{x {{visitor.name}}`) is still filled.
                out.push_str("{{");
                rest = after_open;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Placeholders {
        Placeholders {
            visitor_name: Some("Vera".into()),
            specialist_name: Some("Sam".into()),
            session_number: "CHAT-00000042".into(),
        }
    }

    #[test]
    fn known_placeholders_are_filled_in() {
        assert_eq!(
            render(
                "Hi {{visitor.name}}, I'm {{specialist.name}} ({{session.number}}).",
                &values()
            ),
            "Hi Vera, I'm Sam (CHAT-00000042)."
        );
    }

    #[test]
    fn missing_values_become_empty() {
        let values = Placeholders {
            session_number: "CHAT-00000001".into(),
            ..Placeholders::default()
        };
        assert_eq!(
            render("Hi {{visitor.name}}! {{specialist.name}}", &values),
            "Hi ! "
        );
    }

    #[test]
    fn unknown_placeholders_and_stray_braces_stay_as_written() {
        assert_eq!(
            render("{{visitor.email}} {{ visitor.name }} {{oops", &values()),
            "{{visitor.email}} Vera {{oops"
        );
        assert_eq!(render("{{x {{visitor.name}}}}", &values()), "{{x Vera}}");
        assert_eq!(render("no placeholders", &values()), "no placeholders");
    }

    #[test]
    fn values_are_not_scanned_again() {
        let values = Placeholders {
            visitor_name: Some("{{specialist.name}}".into()),
            ..values()
        };
        assert_eq!(render("{{visitor.name}}", &values), "{{specialist.name}}");
    }

    #[test]
    fn every_occurrence_is_filled_and_text_is_unicode_safe() {
        assert_eq!(
            render("Olá {{visitor.name}} — {{visitor.name}}", &values()),
            "Olá Vera — Vera"
        );
    }
}
