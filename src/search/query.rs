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

#[cfg(test)]
mod tests {
    use super::*;

    fn group(required: &[&str], excluded: &[&str]) -> Group {
        Group {
            required: required.iter().map(|q| q.to_string()).collect(),
            excluded: excluded.iter().map(|q| q.to_string()).collect(),
        }
    }

    /// The single group `text` parses to.
    fn only_group(text: &str) -> Group {
        let query = parse(text).expect("a query");
        assert_eq!(query.groups.len(), 1, "{query:?}");
        query.groups[0].clone()
    }

    #[test]
    fn every_word_is_required_and_shown_as_a_match() {
        assert_eq!(
            parse("parcel refund"),
            Some(MessageQuery {
                groups: vec![group(&["'parcel'", "'refund'"], &[])],
                wanted: Some("('parcel') | ('refund')".to_owned()),
            })
        );
    }

    #[test]
    fn words_are_stemmed_and_lower_cased_like_messages() {
        assert_eq!(
            only_group("Refunded PARCELS"),
            group(&["'refund'", "'parcel'"], &[])
        );
    }

    #[test]
    fn stop_words_are_dropped() {
        assert_eq!(
            only_group("the parcel of mine"),
            group(&["'parcel'", "'mine'"], &[])
        );
    }

    #[test]
    fn digits_are_kept_verbatim() {
        assert_eq!(
            only_group("#AB1234 v2.1"),
            group(&["'ab1234'", "'v2' <1> '1'"], &[])
        );
    }

    #[test]
    fn a_quoted_phrase_stays_together() {
        assert_eq!(
            parse("\"lost parcel\""),
            Some(MessageQuery {
                groups: vec![group(&["'lost' <1> 'parcel'"], &[])],
                wanted: Some("('lost' <1> 'parcel')".to_owned()),
            })
        );
    }

    #[test]
    fn stop_words_inside_a_phrase_keep_their_distance() {
        assert_eq!(
            only_group("\"cat in the hat\""),
            group(&["'cat' <3> 'hat'"], &[])
        );
    }

    #[test]
    fn an_unclosed_quote_runs_to_the_end() {
        assert_eq!(
            only_group("\"lost   parcel"),
            group(&["'lost' <1> 'parcel'"], &[])
        );
    }

    #[test]
    fn a_quote_inside_a_word_starts_a_phrase() {
        assert_eq!(
            only_group("refund\"lost parcel\"cold"),
            group(&["'refund'", "'lost' <1> 'parcel'", "'cold'"], &[])
        );
    }

    #[test]
    fn an_e_mail_address_is_searched_as_a_phrase_of_its_parts() {
        assert_eq!(
            only_group("Bob@Example.com"),
            group(&["'bob' <1> 'exampl' <1> 'com'"], &[])
        );
    }

    #[test]
    fn a_minus_word_is_excluded() {
        assert_eq!(
            parse("parcel -refund"),
            Some(MessageQuery {
                groups: vec![group(&["'parcel'"], &["'refund'"])],
                wanted: Some("('parcel')".to_owned()),
            })
        );
    }

    #[test]
    fn a_minus_phrase_is_excluded() {
        assert_eq!(
            only_group("parcel -\"lost parcel\""),
            group(&["'parcel'"], &["'lost' <1> 'parcel'"])
        );
    }

    #[test]
    fn a_minus_inside_a_word_only_separates() {
        assert_eq!(only_group("e-mail"), group(&["'e' <1> 'mail'"], &[]));
    }

    #[test]
    fn a_query_that_only_excludes_shows_no_matches() {
        assert_eq!(
            parse("-spam"),
            Some(MessageQuery {
                groups: vec![group(&[], &["'spam'"])],
                wanted: None,
            })
        );
    }

    #[test]
    fn or_joins_alternatives_binding_looser_than_and() {
        assert_eq!(
            parse("parcel refund or invoice -paid"),
            Some(MessageQuery {
                groups: vec![
                    group(&["'parcel'", "'refund'"], &[]),
                    group(&["'invoic'"], &["'paid'"]),
                ],
                wanted: Some("('parcel') | ('refund') | ('invoic')".to_owned()),
            })
        );
    }

    #[test]
    fn or_is_recognised_in_any_case() {
        for text in ["parcel OR invoice", "parcel Or invoice"] {
            let query = parse(text).expect("a query");
            assert_eq!(
                query.groups,
                [group(&["'parcel'"], &[]), group(&["'invoic'"], &[])]
            );
        }
    }

    #[test]
    fn a_quoted_or_negated_or_is_just_a_stop_word() {
        assert_eq!(
            only_group("parcel \"or\" invoice"),
            group(&["'parcel'", "'invoic'"], &[])
        );
        assert_eq!(
            only_group("parcel -or invoice"),
            group(&["'parcel'", "'invoic'"], &[])
        );
    }

    #[test]
    fn or_at_either_end_or_doubled_adds_no_empty_alternative() {
        let query = parse("or parcel or or the invoice or").expect("a query");
        assert_eq!(
            query.groups,
            [group(&["'parcel'"], &[]), group(&["'invoic'"], &[])]
        );
    }

    #[test]
    fn an_empty_or_all_stop_word_query_matches_nothing() {
        for text in [
            "",
            "   ",
            "the and of",
            "?!",
            "-",
            "--",
            "\"\"",
            "\"",
            "or",
            "or or",
            "-the",
        ] {
            assert_eq!(parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn a_double_minus_excludes_the_word() {
        assert_eq!(only_group("--spam"), group(&[], &["'spam'"]));
    }

    #[test]
    fn unicode_words_and_spaces_are_understood() {
        assert_eq!(
            only_group("МОСКВА\u{a0}東京\u{3000}parcel"),
            group(&["'москва'", "'東京'", "'parcel'"], &[])
        );
    }

    #[test]
    fn a_nul_or_control_character_joins_its_neighbours_into_a_phrase() {
        assert_eq!(
            only_group("parcel\0refund"),
            group(&["'parcel' <1> 'refund'"], &[])
        );
        assert_eq!(
            only_group("parcel\u{7}refund"),
            group(&["'parcel' <1> 'refund'"], &[])
        );
        assert_eq!(
            only_group("parcel\trefund"),
            group(&["'parcel'", "'refund'"], &[])
        );
    }

    #[test]
    fn the_longest_phrase_a_query_can_hold_spans_under_half_its_length() {
        let text = "x.".repeat(MAX_CHARS / 2);
        assert_eq!(text.chars().count(), MAX_CHARS);
        let [phrase] = only_group(&text).required.try_into().expect("one phrase");
        let span: usize = phrase
            .split(['<', '>'])
            .skip(1)
            .step_by(2)
            .map(|distance| distance.parse::<usize>().expect("a distance"))
            .sum();
        assert_eq!(span, MAX_CHARS / 2 - 1);
    }
}
