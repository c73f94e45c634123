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

#[cfg(test)]
mod tests {
    use super::*;

    /// `"lexeme:position …"`: the words of `text`, in order.
    fn words(text: &str) -> String {
        let found = Tokenizer::new().words(text);
        let shown: Vec<String> = found
            .iter()
            .map(|w| format!("{}:{}", w.lexeme, w.position))
            .collect();
        shown.join(" ")
    }

    fn document(text: &str) -> Document {
        Document::of(text, &mut Tokenizer::new())
    }

    #[test]
    fn words_are_lower_cased() {
        assert_eq!(words("HELLO World"), "hello:1 world:2");
    }

    #[test]
    fn plural_words_find_their_singular() {
        assert_eq!(words("parcels"), "parcel:1");
        assert_eq!(words("parcel"), "parcel:1");
    }

    #[test]
    fn inflections_share_one_stem() {
        assert_eq!(words("shipping shipped ships"), "ship:1 ship:2 ship:3");
    }

    #[test]
    fn digits_are_kept_verbatim() {
        assert_eq!(
            words("Order AB1234 running2 2024"),
            "order:1 ab1234:2 running2:3 2024:4"
        );
    }

    #[test]
    fn digits_of_any_script_keep_a_word_verbatim() {
        assert_eq!(words("١٢٣ x² Running٣"), "١٢٣:1 x²:2 running٣:3");
    }

    #[test]
    fn stop_words_are_dropped_but_keep_their_place() {
        assert_eq!(words("the cat in the hat"), "cat:2 hat:5");
    }

    #[test]
    fn a_text_of_only_stop_words_has_no_words() {
        assert_eq!(words("And THE of it"), "");
    }

    #[test]
    fn empty_or_punctuation_only_text_has_no_words() {
        assert_eq!(words(""), "");
        assert_eq!(words(" \t\n "), "");
        assert_eq!(words("?!... --- @#$% _"), "");
    }

    #[test]
    fn punctuation_only_separates_words() {
        assert_eq!(words("bob@example.com"), "bob:1 exampl:2 com:3");
        assert_eq!(words("snake_case e-mail"), "snake:1 case:2 e:3 mail:4");
    }

    #[test]
    fn contractions_split_into_stop_words() {
        assert_eq!(words("don't"), "");
        assert_eq!(words("it's cold"), "cold:3");
    }

    #[test]
    fn nul_and_control_characters_only_separate_words() {
        assert_eq!(
            words("refund\0parcel\u{7}tracking\r\ncold"),
            "refund:1 parcel:2 track:3 cold:4"
        );
    }

    #[test]
    fn letters_of_any_script_are_words() {
        assert_eq!(words("МОСКВА 東京 Ελλάδα"), "москва:1 東京:2 ελλάδα:3");
    }

    #[test]
    fn a_word_too_long_for_postgres_is_skipped_but_keeps_its_place() {
        let longest = "x".repeat(MAX_LEXEME_BYTES);
        assert_eq!(
            words(&format!("{longest} cold")),
            format!("{longest}:1 cold:2")
        );
        let too_long = "x".repeat(MAX_LEXEME_BYTES + 1);
        assert_eq!(words(&format!("{too_long} cold")), "cold:2");
    }

    #[test]
    fn the_length_limit_counts_bytes_not_characters() {
        let too_long = "é".repeat(MAX_LEXEME_BYTES / 2 + 1);
        assert_eq!(words(&format!("{too_long} cold")), "cold:2");
    }

    #[test]
    fn words_past_the_highest_position_share_it() {
        let text = "cold ".repeat(MAX_POSITION as usize + 2);
        let found = Tokenizer::new().words(&text);
        let positions: Vec<u16> = found.iter().rev().take(4).map(|w| w.position).collect();
        assert_eq!(found.len(), MAX_POSITION as usize + 2);
        assert_eq!(
            positions,
            [MAX_POSITION, MAX_POSITION, MAX_POSITION, MAX_POSITION - 1]
        );
    }

    #[test]
    fn a_reused_tokenizer_gives_the_same_words_again() {
        let mut tokenizer = Tokenizer::new();
        let first = tokenizer.words("The parcels, the PARCELS");
        let again = tokenizer.words("The parcels, the PARCELS");
        assert_eq!(first, again);
        assert_eq!(
            first,
            Tokenizer::default().words("The parcels, the PARCELS")
        );
        let positions: Vec<u16> = again.iter().map(|w| w.position).collect();
        assert_eq!(positions, [2, 4]);
    }

    #[test]
    fn a_document_lists_each_lexeme_once_with_its_positions() {
        assert_eq!(
            document("Parcel refund, parcels!").literal(),
            "'parcel':1,3 'refund':2"
        );
    }

    #[test]
    fn an_empty_document_is_empty_text_at_position_zero() {
        for text in ["", "the of and", "?!"] {
            let mut empty = document(text);
            assert_eq!(empty.last_position(), 0);
            assert_eq!(empty.literal(), "");
        }
    }

    #[test]
    fn trailing_stop_words_do_not_count_towards_the_last_position() {
        assert_eq!(document("cold parcel of the").last_position(), 2);
    }

    #[test]
    fn an_appended_message_continues_after_the_offset() {
        let mut chunk = document("parcel lost");
        chunk.append(&document("parcel found"), 10);
        assert_eq!(chunk.last_position(), 12);
        assert_eq!(chunk.literal(), "'found':12 'lost':2 'parcel':1,11");
    }

    #[test]
    fn appended_positions_stop_at_the_highest_position() {
        let mut chunk = Document::default();
        chunk.append(&document("parcel lost"), MAX_POSITION - 1);
        assert_eq!(chunk.last_position(), MAX_POSITION);
        assert_eq!(chunk.literal(), "'lost':16383 'parcel':16383");
    }

    #[test]
    fn a_lexeme_keeps_at_most_256_positions() {
        let text = "cold ".repeat(MAX_POSITIONS_PER_LEXEME + 10);
        let expected: Vec<String> = (1..=MAX_POSITIONS_PER_LEXEME)
            .map(|p| p.to_string())
            .collect();
        assert_eq!(
            document(&text).literal(),
            format!("'cold':{}", expected.join(","))
        );
    }

    #[test]
    fn positions_are_written_in_decimal() {
        for n in [0, 7, 10, 99, 16_383, u16::MAX] {
            let mut out = String::from("x");
            push_number(&mut out, n);
            assert_eq!(out, format!("x{n}"));
        }
    }

    #[test]
    fn the_stop_list_is_postgres_english_list() {
        for word in ["a", "about", "don", "s", "t", "whom", "yourselves"] {
            assert!(is_stop_word(word), "{word} is a stop word");
        }
        for word in ["", "cat", "The", "aa", "zzz", "yourselvesx"] {
            assert!(!is_stop_word(word), "{word:?} is not a stop word");
        }
    }
}
