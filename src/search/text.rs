//! How text becomes search lexemes, for message documents and queries alike.
//!
//! The server, not Postgres, turns message bodies into `tsvector`s: Postgres's parser
//! and dictionaries cost the indexer more CPU per message than storing the result, and
//! on a machine the chat path shares that CPU is taken from chat throughput (SPEC
//! sections 9 and 10). Queries go through the same functions, so a document and a query
//! always agree on what a word is.
//!
//! A word is a run of letters and digits, lower-cased; words on the English stop list
//! are dropped but keep their position, so phrases keep their distances; the rest are
//! reduced to their English (Snowball) stem. Anything between words (spaces,
//! punctuation, the `@` and `.` of an address) only separates them: `bob@example.com`
//! is the three words `bob example com`, and a query for it is that phrase.

use std::fmt::Write;

use rust_stemmers::{Algorithm, Stemmer};

/// Highest position Postgres stores; later words share it (and so lose phrase order).
pub const MAX_POSITION: u16 = 16_383;
/// Most positions Postgres keeps per lexeme in one document.
const MAX_POSITIONS_PER_LEXEME: usize = 256;
/// Longest lexeme Postgres accepts, in bytes; longer "words" are not searchable.
const MAX_LEXEME_BYTES: usize = 2_047;

/// One searchable word: its lexeme and its 1-based position among all words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub lexeme: String,
    pub position: u16,
}

/// The searchable words of `text`, in order, and how many words it had in all
/// (stop words included), which is the position of the last one.
pub fn words(text: &str) -> (Vec<Word>, u16) {
    let stemmer = Stemmer::create(Algorithm::English);
    let mut found = Vec::new();
    let mut position: u16 = 0;
    for raw in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        position = position.saturating_add(1).min(MAX_POSITION);
        let lower = raw.to_lowercase();
        if lower.len() > MAX_LEXEME_BYTES || is_stop_word(&lower) {
            continue;
        }
        found.push(Word {
            lexeme: stemmer.stem(&lower).into_owned(),
            position,
        });
    }
    (found, position)
}

/// A `tsvector` in Postgres's text form, built from words in any order.
#[derive(Debug, Default)]
pub struct Document {
    words: Vec<Word>,
}

impl Document {
    pub fn of(text: &str) -> Document {
        Document {
            words: words(text).0,
        }
    }

    /// Adds `other` after the words already here, `offset` positions further on.
    pub fn append(&mut self, other: &Document, offset: u16) {
        self.words.extend(other.words.iter().map(|word| Word {
            lexeme: word.lexeme.clone(),
            position: word.position.saturating_add(offset).min(MAX_POSITION),
        }));
    }

    /// The highest position in the document, 0 when it has no words.
    pub fn last_position(&self) -> u16 {
        self.words.iter().map(|w| w.position).max().unwrap_or(0)
    }

    /// `'lexeme':1,4 'other':2`. Lexemes are letters and digits only, so they never
    /// need the quote or backslash escapes of the format.
    pub fn literal(mut self) -> String {
        self.words
            .sort_unstable_by(|a, b| (&a.lexeme, a.position).cmp(&(&b.lexeme, b.position)));
        let mut out = String::new();
        let mut current: Option<&str> = None;
        let mut count = 0;
        for word in &self.words {
            if current != Some(word.lexeme.as_str()) {
                if current.is_some() {
                    out.push(' ');
                }
                let _ = write!(out, "'{}':{}", word.lexeme, word.position);
                current = Some(&word.lexeme);
                count = 1;
            } else if count < MAX_POSITIONS_PER_LEXEME {
                let _ = write!(out, ",{}", word.position);
                count += 1;
            }
        }
        out
    }
}

/// Postgres's English stop list (`english.stop`), the words too common to index.
fn is_stop_word(word: &str) -> bool {
    const STOP: [&str; 127] = [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "did",
        "do",
        "does",
        "doing",
        "don",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "s",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "t",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
    ];
    STOP.binary_search(&word).is_ok()
}
