//! A search box's text as `tsquery`s over a conversation's messages, read the way
//! Postgres's `websearch_to_tsquery` reads it: words must all appear, `"quoted words"`
//! must appear as that phrase, `-word` or `-"a phrase"` must not appear, and `or`
//! between words makes either side enough (binding looser than "all of": `a b or c`
//! is `(a and b) or c`). Words are those of [`super::text`].
//!
//! "Appear" is in the conversation: a word in any of its messages counts, as when
//! someone searches a support inbox for `parcel refund`; a phrase must be within one
//! message (the index leaves a gap between messages, see `crate::search`).

use super::text::{Tokenizer, Word};

/// Longest search text, in characters.
pub const MAX_CHARS: usize = 200;

/// What a search asks of a conversation's messages, as `tsquery` texts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageQuery {
    /// The alternatives (`or`); a conversation matches when one of them holds.
    pub groups: Vec<Group>,
    /// Any wanted word or phrase: which messages to show as matches. `None` when the
    /// query only excludes.
    pub wanted: Option<String>,
}

/// Words and phrases a conversation must have (each in some message; a phrase within
/// one) and must not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub required: Vec<String>,
    pub excluded: Vec<String>,
}

/// The query for `text`, or `None` when it asks for no word at all (only stop words
/// or punctuation), which no conversation matches.
pub fn parse(text: &str) -> Option<MessageQuery> {
    let mut groups = vec![Group {
        required: Vec::new(),
        excluded: Vec::new(),
    }];
    let mut tokenizer = Tokenizer::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        let negated = rest.starts_with('-');
        if negated {
            rest = &rest[1..];
        }
        let (raw, quoted) = if let Some(inner) = rest.strip_prefix('"') {
            let end = inner.find('"').unwrap_or(inner.len());
            rest = inner.get(end + 1..).unwrap_or("");
            (&inner[..end], true)
        } else {
            let end = rest
                .find(|c: char| c.is_whitespace() || c == '"')
                .unwrap_or(rest.len());
            let word = &rest[..end];
            rest = &rest[end..];
            (word, false)
        };
        if !quoted && !negated && raw.eq_ignore_ascii_case("or") {
            groups.push(Group {
                required: Vec::new(),
                excluded: Vec::new(),
            });
            continue;
        }
        let Some(query) = phrase(&tokenizer.words(raw)) else {
            continue;
        };
        let group = groups.last_mut().expect("one group at least");
        if negated {
            group.excluded.push(query);
        } else {
            group.required.push(query);
        }
    }
    groups.retain(|g| !g.required.is_empty() || !g.excluded.is_empty());
    if groups.is_empty() {
        return None;
    }
    let wanted: Vec<String> = groups
        .iter()
        .flat_map(|g| g.required.iter().map(|q| format!("({q})")))
        .collect();
    Some(MessageQuery {
        wanted: (!wanted.is_empty()).then(|| wanted.join(" | ")),
        groups,
    })
}

/// `'a' <1> 'b' <2> 'c'`: each word at its distance from the one before, so stop
/// words in between still count.
fn phrase(words: &[Word]) -> Option<String> {
    let (first, rest) = words.split_first()?;
    let mut out = format!("'{}'", first.lexeme);
    let mut previous = first.position;
    for word in rest {
        out.push_str(&format!(
            " <{}> '{}'",
            word.position - previous,
            word.lexeme
        ));
        previous = word.position;
    }
    Some(out)
}
