//! A search box's text as `tsquery`s over the message documents, read the way
//! Postgres's `websearch_to_tsquery` reads it: words must all appear, `"quoted words"`
//! must appear as that phrase, `-word` or `-"a phrase"` must not appear, and `or`
//! between words makes either side enough (binding looser than "all of": `a b or c`
//! is `(a and b) or c`). Words are those of [`super::text`].

use super::text::{words, Word};

/// What a search asks of one message, as `tsquery` text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageQuery {
    /// The query each message is checked against.
    pub exact: String,
    /// A looser query for a document that joins several messages: whatever a message
    /// matching `exact` contains, the joined document matches this. `None` when no
    /// word is required (only `-word`s), so nothing can be ruled out by the index.
    pub prefilter: Option<String>,
}

/// One `word`, `"phrase"` or its `-` negation.
struct Term {
    negated: bool,
    /// `tsquery` text for the words; `None` when they were all stop words.
    query: Option<String>,
}

/// The query for `text`, or `None` when it asks for no word at all (only stop words
/// or punctuation), which no message matches.
pub fn parse(text: &str) -> Option<MessageQuery> {
    let mut groups: Vec<Vec<Term>> = vec![Vec::new()];
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
            groups.push(Vec::new());
            continue;
        }
        let query = phrase(&words(raw).0);
        groups
            .last_mut()
            .expect("one group at least")
            .push(Term { negated, query });
    }

    let groups: Vec<Vec<Term>> = groups
        .into_iter()
        .map(|terms| {
            terms
                .into_iter()
                .filter(|t| t.query.is_some())
                .collect::<Vec<_>>()
        })
        .filter(|terms| !terms.is_empty())
        .collect();
    if groups.is_empty() {
        return None;
    }
    let exact = any_of(groups.iter().map(|terms| all_of(terms.iter())));
    let prefilter = groups
        .iter()
        .map(|terms| {
            let required: Vec<&Term> = terms.iter().filter(|t| !t.negated).collect();
            (!required.is_empty()).then(|| all_of(required.into_iter()))
        })
        .collect::<Option<Vec<String>>>()
        .map(|groups| any_of(groups.into_iter()));
    Some(MessageQuery { exact, prefilter })
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

fn all_of<'a>(terms: impl Iterator<Item = &'a Term>) -> String {
    terms
        .map(|term| {
            let query = term
                .query
                .as_deref()
                .expect("terms without words are dropped");
            if term.negated {
                format!("!({query})")
            } else {
                format!("({query})")
            }
        })
        .collect::<Vec<_>>()
        .join(" & ")
}

fn any_of(groups: impl Iterator<Item = String>) -> String {
    groups
        .map(|g| format!("({g})"))
        .collect::<Vec<_>>()
        .join(" | ")
}
