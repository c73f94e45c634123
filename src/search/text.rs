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
//! reduced to their English (Snowball) stem, except words with a digit (order numbers,
//! codes), which are kept as they are. Anything between words (spaces,
//! punctuation, the `@` and `.` of an address) only separates them: `bob@example.com`
//! is the three words `bob example com`, and a query for it is that phrase.

use std::collections::HashMap;
use std::rc::Rc;

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
    pub lexeme: Rc<str>,
    pub position: u16,
}

/// Turns text into words, remembering each word's lexeme: stemming is most of the
/// work, and a batch of chat messages repeats its words over and over.
pub struct Tokenizer {
    stemmer: Stemmer,
    /// Lower-cased word → its lexeme, `None` for a stop word.
    lexemes: HashMap<String, Option<Rc<str>>>,
    lower: String,
}

impl Tokenizer {
    pub fn new() -> Tokenizer {
        Tokenizer {
            stemmer: Stemmer::create(Algorithm::English),
            lexemes: HashMap::new(),
            lower: String::new(),
        }
    }

    /// The searchable words of `text`, in order; stop words count for positions.
    pub fn words(&mut self, text: &str) -> Vec<Word> {
        let mut found = Vec::new();
        let mut position: u16 = 0;
        for raw in text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            position = position.saturating_add(1).min(MAX_POSITION);
            self.lower.clear();
            if raw.is_ascii() {
                self.lower.push_str(raw);
                self.lower.make_ascii_lowercase();
            } else {
                self.lower.extend(raw.chars().flat_map(char::to_lowercase));
            }
            let lexeme = if self.lower.len() > MAX_LEXEME_BYTES {
                None
            } else if self.lower.contains(char::is_numeric) {
                // Order numbers, codes, versions: kept as they are, not stemmed, and
                // not remembered (they are seldom repeated).
                Some(Rc::from(self.lower.as_str()))
            } else if let Some(known) = self.lexemes.get(self.lower.as_str()) {
                known.clone()
            } else {
                let lexeme = (!is_stop_word(&self.lower))
                    .then(|| Rc::from(self.stemmer.stem(&self.lower).as_ref()));
                self.lexemes.insert(self.lower.clone(), lexeme.clone());
                lexeme
            };
            if let Some(lexeme) = lexeme {
                found.push(Word { lexeme, position });
            }
        }
        found
    }
}

impl Default for Tokenizer {
    fn default() -> Tokenizer {
        Tokenizer::new()
    }
}

/// A `tsvector` in Postgres's text form, built from words in any order.
#[derive(Debug, Default)]
pub struct Document {
    words: Vec<Word>,
}

impl Document {
    pub fn of(text: &str, tokenizer: &mut Tokenizer) -> Document {
        Document {
            words: tokenizer.words(text),
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
    pub fn literal(&mut self) -> String {
        self.words
            .sort_unstable_by(|a, b| (&a.lexeme, a.position).cmp(&(&b.lexeme, b.position)));
        let mut out = String::new();
        let mut current: Option<&Rc<str>> = None;
        let mut count = 0;
        for word in &self.words {
            if current != Some(&word.lexeme) {
                if current.is_some() {
                    out.push(' ');
                }
                out.push('\'');
                out.push_str(&word.lexeme);
                out.push_str("':");
                push_number(&mut out, word.position);
                current = Some(&word.lexeme);
                count = 1;
            } else if count < MAX_POSITIONS_PER_LEXEME {
                out.push(',');
                push_number(&mut out, word.position);
                count += 1;
            }
        }
        out
    }
}

/// Appends `n` in decimal (the hot loop of writing documents; `write!` costs more).
fn push_number(out: &mut String, n: u16) {
    let mut digits = [0u8; 5];
    let mut at = digits.len();
    let mut rest = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&digits[at..]).expect("ASCII digits"));
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
