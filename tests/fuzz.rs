//! Generated inputs (proptest) for the WebSocket frame parser and the input types: what
//! a visitor can send must either parse into values that keep their documented
//! invariants or be refused with `bad_request`, never panic, never `internal`, and what
//! is accepted can always be written back as JSON. No database, no server: these run in
//! a few seconds, so CI runs them with every test pass (`PROPTEST_CASES` raises the
//! number of cases for a longer run; the default is 256 per property).

use std::collections::BTreeSet;

use chrono::{DateTime, FixedOffset, SubsecRound, TimeDelta, Utc};
use proptest::prelude::*;
use proptest::sample::{select, Index};
use proptest::test_runner::TestCaseError;
use serde_json::{json, Value};

use switchboard::conversation::{LeftMessage, Opening, OpeningInput, SessionCommand};
use switchboard::domain::inputs::{self, Email};
use switchboard::domain::{
    AttachmentId, Body, ClientMsgId, Content, HistoryLimit, MessageId, MessageKind, Metadata,
    ParticipantType, Priority, Rating, Remark, SendAt, SessionId,
};
use switchboard::error::{Error, ErrorCode};
use switchboard::protocol::client::{Request, MAX_REF_CHARS};
use switchboard::protocol::objects::{Message, Participant};
use switchboard::protocol::{self, Frame};

type Checked = Result<(), TestCaseError>;

/// 256 cases per property unless `PROPTEST_CASES` says otherwise; no regression files
/// are written next to the sources (a failure prints its minimal input instead).
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        failure_persistence: None,
        max_shrink_iters: 8192,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------

/// Every frame name a client may send (SPEC section 4); the parser's own unit test
/// checks that it knows each of them.
const FRAME_TYPES: &[&str] = &switchboard::protocol::client::REQUEST_NAMES;

/// Names that look like frame names but are not (server frames, case, padding, NUL).
const BOGUS_TYPES: &[&str] = &[
    "",
    "Ping",
    "ping ",
    " ping",
    "message.Send",
    "message.send\u{0}",
    "session",
    "error",
    "hello",
    "pong",
    "message.new",
    "read\n",
];

/// Every field name of a client frame.
const FIELDS: &[&str] = &[
    "session_id",
    "client_msg_id",
    "body",
    "attachment_id",
    "send_at",
    "scheduled_id",
    "is_typing",
    "seq",
    "after_seq",
    "before_seq",
    "limit",
    "reason",
    "rating",
    "comment",
    "status",
    "offer_id",
    "to_specialist_id",
    "skills",
    "note",
    "tags",
    "intent",
    "language",
    "priority",
    "page_url",
    "metadata",
];

/// Characters that trip up text handling: NUL and other controls, Unicode whitespace and
/// invisible format characters, JSON punctuation, case mappings that change length or
/// leave ASCII, combining marks, astral characters.
#[rustfmt::skip]
const AWKWARD: &[char] = &[
    '\0', '\u{1}', '\t', '\n', '\r', '\u{b}', '\u{c}', '\u{1b}', '\u{7f}', '\u{85}', '\u{9f}',
    ' ', '\u{a0}', '\u{1680}', '\u{2003}', '\u{2028}', '\u{2029}', '\u{3000}',
    '\u{200b}', '\u{200d}', '\u{202e}', '\u{feff}', '\u{fffd}', '\u{10ffff}',
    '"', '\\', '/', '{', '}', '[', ']', ':', ',', '@', '.', '-', '_',
    'a', 'z', 'A', 'Z', '0', '9', 'é', 'É', 'ß', 'ẞ', 'İ', 'ı', 'Σ', 'ς',
    '\u{212a}', 'ǅ', 'ﬀ', '😀', '👩', '\u{301}', '中',
];

#[rustfmt::skip]
const WHITESPACE: &[char] = &[
    ' ', '\t', '\n', '\r', '\u{b}', '\u{c}', '\u{85}', '\u{a0}', '\u{1680}', '\u{2000}',
    '\u{2028}', '\u{2029}', '\u{3000}',
];

/// Characters repeated up to a length limit: one byte, two, three, four, combining.
const LONG_CHARS: &[char] = &['x', 'é', '中', '😀', '\u{301}', ' '];

const ODD_LABELS: &[&str] = &[
    "\u{212a}",
    "K\u{212a}",
    "İ",
    "ǅ",
    "ß",
    "pt-BR",
    "en_US",
    "DE",
    "a b",
];
const ODD_EMAIL_PARTS: &[&str] = &["ÉLODIE", "\u{212a}", "İ", "ΣΑΣ", "ß", "ǅ", "ﬀ"];
const AT_SIGNS: &[&str] = &["@", "", "@@", " @"];
const DOTS: &[&str] = &[".", "", "..", ". "];
const UTC_OFFSETS: &[i32] = &[0, 19_800, -36_000];
const ENUM_WORDS: &[&str] = &[
    "online", "away", "offline", "low", "medium", "high", "urgent", "Online",
];
const OPENERS: &[&str] = &["[", "{\"a\":"];
const NESTED_FIELDS: &[&str] = &["type", "ref", "metadata", "skills"];
const PRIORITIES: &[&str] = &["low", "medium", "high", "urgent"];
const TEXT_LIMITS: &[usize] = &[
    200,
    Remark::REASON_CHARS,
    Remark::COMMENT_CHARS,
    Remark::NOTE_CHARS,
];
/// NUL, and the six characters `\u0000` that only look like it once encoded.
const NUL_LOOKALIKES: &[&str] = &["a", "\\", "u0000", "\\u0000", "\0", "é"];

fn awkward_char() -> impl Strategy<Value = char> {
    prop_oneof![3 => select(AWKWARD), 1 => any::<char>()]
}

fn awkward_text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(awkward_char(), 0..=max).prop_map(String::from_iter)
}

fn whitespace() -> impl Strategy<Value = String> {
    prop::collection::vec(select(WHITESPACE), 0..5).prop_map(String::from_iter)
}

/// A run of one character of about `limit` characters, with a little around it.
fn around(limit: usize) -> impl Strategy<Value = String> {
    (
        select(LONG_CHARS),
        limit.saturating_sub(3)..=limit + 3,
        awkward_text(2),
        awkward_text(2),
    )
        .prop_map(|(c, n, before, after)| format!("{before}{}{after}", c.to_string().repeat(n)))
}

/// Free text as a visitor may type it, at every length that matters.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => awkward_text(24),
        2 => whitespace(),
        2 => any::<String>(),
        1 => around(ClientMsgId::MAX_CHARS),
        1 => around(200),
        1 => around(Remark::REASON_CHARS),
        1 => around(Remark::COMMENT_CHARS),
        1 => around(inputs::MAX_BODY_CHARS),
    ]
}

/// Candidates for skills, tags, shortcuts and languages.
fn label_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z0-9_-]{1,6}",
        1 => "[A-Za-z0-9_-]{0,34}",
        1 => "[ \t]?[a-zA-Z-]{1,4}[ \n]?",
        1 => "[a-z]{30,34}",
        1 => awkward_text(6),
        1 => select(ODD_LABELS).prop_map(String::from),
    ]
}

fn label_list() -> impl Strategy<Value = Vec<String>> {
    prop_oneof![
        3 => prop::collection::vec(label_text(), 0..8),
        1 => prop::collection::vec("[a-z]{1,2}", 15..60),
    ]
}

fn email_text() -> impl Strategy<Value = String> {
    fn part() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => "[A-Za-z0-9._+-]{0,8}",
            1 => awkward_text(4),
            1 => select(ODD_EMAIL_PARTS).prop_map(String::from),
            1 => "[a-z]{120,140}",
        ]
    }
    prop_oneof![
        5 => (
            whitespace(),
            part(),
            select(AT_SIGNS),
            part(),
            select(DOTS),
            part(),
            whitespace(),
        )
            .prop_map(|(a, local, at, domain, dot, tld, z)| {
                format!("{a}{local}{at}{domain}{dot}{tld}{z}")
            }),
        1 => awkward_text(16),
    ]
}

const EDGE_INTS: &[i64] = &[
    i64::MIN,
    i32::MIN as i64 - 1,
    i32::MIN as i64,
    -1,
    0,
    1,
    5,
    6,
    200,
    201,
    i16::MAX as i64 + 2,
    i32::MAX as i64,
    i32::MAX as i64 + 1,
    i64::MAX,
];

fn int() -> impl Strategy<Value = i64> {
    prop_oneof![4 => -3i64..=210, 1 => select(EDGE_INTS), 1 => any::<i64>()]
}

const DAY_NS: i64 = 86_400_000_000_000;

/// Nanoseconds from now: around now, around the 7-day horizon, anywhere in 10 days.
fn send_at_offset() -> impl Strategy<Value = i64> {
    prop_oneof![
        -2_000_000_000i64..2_000_000_000,
        (7 * DAY_NS - 2_000_000_000)..(7 * DAY_NS + 2_000_000_000),
        -10 * DAY_NS..10 * DAY_NS,
    ]
}

/// A valid RFC 3339 time near now, in one of a few offsets.
fn send_at_text() -> impl Strategy<Value = String> {
    (send_at_offset(), select(UTC_OFFSETS)).prop_map(|(ns, offset)| {
        let at = Utc::now() + TimeDelta::nanoseconds(ns);
        at.with_timezone(&FixedOffset::east_opt(offset).expect("a valid offset"))
            .to_rfc3339()
    })
}

fn uuid_text() -> impl Strategy<Value = String> {
    any::<u128>().prop_map(|n| uuid::Uuid::from_u128(n).to_string())
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        int().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        text().prop_map(Value::String),
    ]
}

fn key_text() -> impl Strategy<Value = String> {
    prop_oneof![3 => "[a-z_]{1,8}", 1 => awkward_text(6)]
}

/// Any JSON value, a few levels deep, with awkward strings as keys and values.
fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key_text(), inner), 0..6)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

/// Metadata candidates: anything, objects, and objects right at the 16 KiB limit.
fn metadata_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        2 => json_value(),
        3 => prop::collection::vec((key_text(), json_value()), 0..6)
            .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        1 => (16_360usize..16_390).prop_map(|n| json!({ "blob": "x".repeat(n) })),
        1 => (8_180usize..8_195).prop_map(|n| json!({ "blob": "é".repeat(n) })),
    ]
}

/// What can stand where a field's value goes in a frame.
fn field_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => uuid_text().prop_map(Value::String),
        3 => text().prop_map(Value::String),
        2 => int().prop_map(Value::from),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => Just(Value::Null),
        1 => send_at_text().prop_map(Value::String),
        1 => select(ENUM_WORDS).prop_map(Value::from),
        1 => prop::collection::vec(label_text().prop_map(Value::String), 0..5)
            .prop_map(Value::Array),
        1 => json_value(),
    ]
}

fn frame_type() -> impl Strategy<Value = Value> {
    prop_oneof![
        8 => select(FRAME_TYPES).prop_map(Value::from),
        1 => select(BOGUS_TYPES).prop_map(Value::from),
        1 => json_leaf(),
    ]
}

fn reference() -> impl Strategy<Value = Value> {
    prop_oneof![
        1 => Just(Value::Null),
        4 => awkward_text(70).prop_map(Value::String),
        2 => around(MAX_REF_CHARS).prop_map(Value::String),
        1 => int().prop_map(Value::from),
        1 => json_value(),
    ]
}

/// A breakage applied to the text of an otherwise well-formed object.
#[derive(Debug, Clone)]
enum Mutation {
    None,
    Truncate(Index),
    Insert(Index, char),
    Delete(Index),
    Wrap(&'static str, &'static str),
}

const WRAPPERS: &[(&str, &str)] = &[
    ("[", "]"),
    ("", " "),
    (" ", ""),
    ("", "{}"),
    ("", ","),
    ("\u{feff}", ""),
    ("{\"x\":", "}"),
    ("\"", "\""),
];

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        6 => Just(Mutation::None),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        1 => (any::<Index>(), awkward_char()).prop_map(|(at, c)| Mutation::Insert(at, c)),
        1 => any::<Index>().prop_map(Mutation::Delete),
        1 => select(WRAPPERS).prop_map(|(before, after)| Mutation::Wrap(before, after)),
    ]
}

/// A frame from the grammar: an object whose keys are real field names (a `type` among
/// the real frame names most of the time, perhaps a `ref`, perhaps a key twice), written
/// out by hand so duplicate keys survive, then perhaps broken.
#[derive(Debug, Clone)]
struct GrammarFrame {
    entries: Vec<(String, Value)>,
    mutation: Mutation,
}

impl GrammarFrame {
    fn object_text(&self) -> String {
        let entries: Vec<String> = self
            .entries
            .iter()
            .map(|(key, value)| format!("{}:{value}", Value::String(key.clone())))
            .collect();
        format!("{{{}}}", entries.join(","))
    }

    fn text(&self) -> String {
        let text = self.object_text();
        let mut chars: Vec<char> = text.chars().collect();
        match &self.mutation {
            Mutation::None => return text,
            Mutation::Truncate(at) => chars.truncate(at.index(chars.len())),
            Mutation::Insert(at, c) => chars.insert(at.index(chars.len() + 1), *c),
            Mutation::Delete(at) => {
                chars.remove(at.index(chars.len()));
            }
            Mutation::Wrap(before, after) => return format!("{before}{text}{after}"),
        }
        chars.into_iter().collect()
    }

    /// Whether the text is exactly one JSON object with distinct keys.
    fn clean(&self) -> bool {
        let keys: BTreeSet<&str> = self.entries.iter().map(|(key, _)| key.as_str()).collect();
        matches!(self.mutation, Mutation::None) && keys.len() == self.entries.len()
    }

    fn field(&self, key: &str) -> Option<&Value> {
        self.entries
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value)
    }
}

fn grammar_frame() -> impl Strategy<Value = GrammarFrame> {
    let name = prop_oneof![
        8 => select(FIELDS).prop_map(String::from),
        1 => Just("type".to_owned()),
        1 => Just("ref".to_owned()),
        1 => awkward_text(8),
    ];
    (
        prop::option::weighted(0.9, frame_type()),
        prop::option::weighted(0.6, reference()),
        prop::collection::vec((name, field_value()), 0..8),
        any::<Index>(),
        any::<Index>(),
        mutation(),
    )
        .prop_map(
            |(kind, reference, mut entries, at_type, at_ref, mutation)| {
                if let Some(kind) = kind {
                    entries.insert(at_type.index(entries.len() + 1), ("type".into(), kind));
                }
                if let Some(reference) = reference {
                    entries.insert(at_ref.index(entries.len() + 1), ("ref".into(), reference));
                }
                GrammarFrame { entries, mutation }
            },
        )
}

const SOUP: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "\"",
    ":",
    ",",
    " ",
    "\\",
    "\"type\"",
    "\"ref\"",
    "\"ping\"",
    "\"read\"",
    "\"session.start\"",
    "\"metadata\"",
    "\"session_id\"",
    "\"0190b1a2-0000-7000-8000-000000000000\"",
    "\"seq\"",
    "null",
    "true",
    "1",
    "-0",
    "1e999",
    "2147483648",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "\"\\udc00\\ud800\"",
];

/// Any text at all: random Unicode, awkward characters, JSON token soup, and nesting far
/// deeper than the parser's recursion limit.
fn arbitrary_frame_text() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => any::<String>(),
        2 => awkward_text(64),
        3 => prop::collection::vec(select(SOUP), 0..40).prop_map(|tokens| tokens.concat()),
        1 => (
            0usize..3000,
            select(OPENERS),
            any::<bool>(),
            select(NESTED_FIELDS),
        )
            .prop_map(|(depth, open, closed, field)| {
                let close = if open == "[" { "]" } else { "}" };
                let tail = if closed { close.repeat(depth) } else { String::new() };
                format!(
                    "{{\"type\":\"session.start\",\"{field}\":{}1{tail}}}",
                    open.repeat(depth)
                )
            }),
    ]
}

fn object(kind: &str, fields: Vec<(&str, Option<Value>)>) -> Value {
    let mut object = serde_json::Map::new();
    object.insert("type".into(), kind.into());
    for (key, value) in fields {
        if let Some(value) = value {
            object.insert(key.into(), value);
        }
    }
    Value::Object(object)
}

fn some_text() -> impl Strategy<Value = Option<Value>> {
    prop::option::of(text().prop_map(Value::String))
}

fn some_uuid() -> impl Strategy<Value = Option<Value>> {
    prop::option::of(uuid_text().prop_map(Value::String))
}

/// A well-typed frame of one of the session requests, with awkward contents.
fn session_frame() -> impl Strategy<Value = Value> {
    let sid = || uuid_text().prop_map(Value::String);
    let frames = prop_oneof![
        4 => (
            sid(),
            text(),
            some_text(),
            some_uuid(),
            prop::option::weighted(0.3, send_at_text().prop_map(Value::String)),
        )
            .prop_map(|(s, id, body, file, at)| {
                object(
                    "message.send",
                    vec![
                        ("session_id", Some(s)),
                        ("client_msg_id", Some(id.into())),
                        ("body", body),
                        ("attachment_id", file),
                        ("send_at", at),
                    ],
                )
            }),
        1 => (sid(), any::<bool>()).prop_map(|(s, typing)| {
            object("typing", vec![("session_id", Some(s)), ("is_typing", Some(typing.into()))])
        }),
        1 => (sid(), any::<i32>()).prop_map(|(s, seq)| {
            object("read", vec![("session_id", Some(s)), ("seq", Some(seq.into()))])
        }),
        1 => (sid(), any::<i32>()).prop_map(|(s, seq)| {
            object("session.resume", vec![("session_id", Some(s)), ("after_seq", Some(seq.into()))])
        }),
        2 => (sid(), prop::option::of(any::<i32>()), prop::option::of(int())).prop_map(
            |(s, before, limit)| {
                object(
                    "history",
                    vec![
                        ("session_id", Some(s)),
                        ("before_seq", before.map(Value::from)),
                        ("limit", limit.map(Value::from)),
                    ],
                )
            }
        ),
        2 => (sid(), some_text()).prop_map(|(s, reason)| {
            object("session.end", vec![("session_id", Some(s)), ("reason", reason)])
        }),
        2 => (sid(), prop_oneof![-2i64..8, int()], some_text()).prop_map(
            |(s, rating, comment)| {
                object(
                    "session.rate",
                    vec![
                        ("session_id", Some(s)),
                        ("rating", Some(rating.into())),
                        ("comment", comment),
                    ],
                )
            }
        ),
        2 => (sid(), text()).prop_map(|(s, body)| {
            object("note.add", vec![("session_id", Some(s)), ("body", Some(body.into()))])
        }),
        2 => (sid(), some_uuid(), prop::option::of(label_list()), some_text()).prop_map(
            |(s, to, skills, note)| {
                object(
                    "session.transfer",
                    vec![
                        ("session_id", Some(s)),
                        ("to_specialist_id", to),
                        ("skills", skills.map(Value::from)),
                        ("note", note),
                    ],
                )
            }
        ),
    ];
    // Only valid refs here: a bad `ref` refuses the frame before its fields are read.
    let reference = prop_oneof![
        Just(Value::Null),
        awkward_text(MAX_REF_CHARS).prop_map(Value::String)
    ];
    (frames, prop::option::of(reference)).prop_map(|(mut frame, reference)| {
        if let Some(reference) = reference {
            frame["ref"] = reference;
        }
        frame
    })
}

fn session_start_frame() -> impl Strategy<Value = Value> {
    (
        prop::option::of(select(PRIORITIES).prop_map(Value::from)),
        some_text(),
        prop::option::of(label_text().prop_map(Value::String)),
        prop::option::of(label_list()),
        some_text(),
        prop::option::of(metadata_value()),
    )
        .prop_map(|(priority, intent, language, skills, page_url, metadata)| {
            object(
                "session.start",
                vec![
                    ("priority", priority),
                    ("intent", intent),
                    ("language", language),
                    ("skills", skills.map(Value::from)),
                    ("page_url", page_url),
                    ("metadata", metadata),
                ],
            )
        })
}

fn leave_message_frame() -> impl Strategy<Value = Value> {
    (
        prop_oneof![
            text().prop_map(Value::String),
            Just(Value::from("ann@example.com")),
            Just(Value::from(" Ann@Example.COM ")),
        ],
        some_text(),
        prop::option::of(prop_oneof![
            text().prop_map(Value::String),
            Just(Value::from("+49 (30) 123-456")),
        ]),
        prop::option::of(any::<bool>().prop_map(Value::from)),
        text(),
    )
        .prop_map(|(email, name, phone, callback, body)| {
            object(
                "message.leave",
                vec![
                    ("email", Some(email)),
                    ("name", name),
                    ("phone", phone),
                    ("callback", callback),
                    ("body", Some(Value::String(body))),
                ],
            )
        })
}

// ---------------------------------------------------------------------------------------
// Invariants
// ---------------------------------------------------------------------------------------

fn bad_request(error: &Error) -> Checked {
    prop_assert_eq!(error.code, ErrorCode::BadRequest, "{}", error.message);
    Ok(())
}

fn is_label(text: &str) -> bool {
    (1..=32).contains(&text.len())
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

fn is_language(text: &str) -> bool {
    (1..=32).contains(&text.len()) && text.chars().all(|c| c.is_ascii_lowercase() || c == '-')
}

fn check_client_msg_id(id: &str) -> Checked {
    prop_assert!(
        (1..=ClientMsgId::MAX_CHARS).contains(&id.chars().count()),
        "{id:?}"
    );
    prop_assert!(!id.chars().any(char::is_control), "{id:?}");
    Ok(())
}

fn check_body(body: &str) -> Checked {
    prop_assert!(!body.is_empty());
    check_caption(body)
}

fn check_caption(caption: &str) -> Checked {
    prop_assert_eq!(caption.trim(), caption);
    prop_assert!(caption.chars().count() <= inputs::MAX_BODY_CHARS);
    prop_assert!(!caption.contains('\0'), "{caption:?}");
    Ok(())
}

fn check_remark(remark: &str, max_chars: usize) -> Checked {
    prop_assert!(!remark.is_empty());
    prop_assert_eq!(remark.trim(), remark);
    prop_assert!(remark.chars().count() <= max_chars);
    prop_assert!(!remark.chars().any(char::is_control), "{remark:?}");
    Ok(())
}

fn check_labels(labels: &[String], max: usize, valid: fn(&str) -> bool) -> Checked {
    prop_assert!(labels.len() <= max);
    prop_assert!(labels.iter().all(|label| valid(label)), "{labels:?}");
    let distinct: BTreeSet<&String> = labels.iter().collect();
    prop_assert_eq!(distinct.len(), labels.len(), "duplicates in {:?}", labels);
    Ok(())
}

fn contains_nul(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(contains_nul),
        Value::Object(entries) => entries
            .iter()
            .any(|(key, value)| key.contains('\0') || contains_nul(value)),
        _ => false,
    }
}

/// An accepted metadata: an object of at most 16 KiB holding no NUL, that serializes and
/// reads back as itself and is accepted again.
fn check_metadata(metadata: &Value) -> Checked {
    prop_assert!(metadata.is_object());
    let encoded = serde_json::to_string(metadata)?;
    prop_assert!(
        encoded.len() <= Metadata::MAX_BYTES,
        "{} bytes",
        encoded.len()
    );
    prop_assert!(!contains_nul(metadata));
    let decoded: Value = serde_json::from_str(&encoded)?;
    prop_assert_eq!(&decoded, metadata);
    prop_assert!(Metadata::parse(Some(decoded)).is_ok());
    Ok(())
}

/// Writes `value` as JSON and reads it back.
fn check_round_trip(text: &str) -> Checked {
    let encoded = serde_json::to_string(text)?;
    prop_assert_eq!(serde_json::from_str::<String>(&encoded)?, text);
    Ok(())
}

/// The error frame for a refused request serializes and carries the code and the `ref`.
fn check_error_frame(reference: Option<&str>, error: &Error) -> Checked {
    let frame = Frame::error(reference.map(str::to_owned), error).to_text();
    let echoed: Value = serde_json::from_str(&frame)?;
    prop_assert_eq!(&echoed["type"], "error");
    prop_assert_eq!(&echoed["code"], &serde_json::to_value(error.code)?);
    prop_assert_eq!(echoed["message"].as_str(), Some(error.message.as_str()));
    prop_assert_eq!(echoed.get("ref").and_then(Value::as_str), reference);
    Ok(())
}

/// What every parse of any text must give: a short `ref` or none, a known frame or
/// `bad_request`, and an error frame that can be written.
fn check_parsed(parsed: &protocol::ParsedFrame) -> Checked {
    if let Some(reference) = &parsed.reference {
        prop_assert!(reference.chars().count() <= MAX_REF_CHARS, "{reference:?}");
    }
    match &parsed.request {
        Ok(request) => prop_assert!(FRAME_TYPES.contains(&request.name())),
        Err(error) => {
            bad_request(error)?;
            check_error_frame(parsed.reference.as_deref(), error)?;
        }
    }
    Ok(())
}

fn is_session_request(request: &Request) -> bool {
    matches!(
        request,
        Request::MessageSend { .. }
            | Request::Typing { .. }
            | Request::Read { .. }
            | Request::SessionResume { .. }
            | Request::History { .. }
            | Request::SessionEnd { .. }
            | Request::SessionRate { .. }
            | Request::NoteAdd { .. }
            | Request::SessionTransfer { .. }
    )
}

fn check_content(content: &Content) -> Checked {
    match content {
        Content::Text(body) => check_body(body.as_str()),
        Content::File { caption, .. } => check_caption(caption),
    }
}

/// The acknowledgement a sender gets for `content` serializes and echoes it unchanged.
fn check_ack(
    reference: Option<&str>,
    session: SessionId,
    client_msg_id: Option<&ClientMsgId>,
    content: &Content,
) -> Checked {
    let text = content.clone().into_text();
    let frame = Frame::MessageAck {
        reference: reference.map(str::to_owned),
        client_msg_id: client_msg_id.map(|id| id.as_str().to_owned()),
        message: Message {
            id: MessageId::new(),
            session_id: session,
            seq: 1,
            sender: Participant {
                kind: ParticipantType::Visitor,
                id: None,
                name: None,
            },
            kind: match content {
                Content::Text(_) => MessageKind::Text,
                Content::File { .. } => MessageKind::File,
            },
            body: text.clone(),
            attachment: None,
            client_msg_id: None,
            created_at: Utc::now(),
        },
    }
    .to_text();
    let echoed: Value = serde_json::from_str(&frame)?;
    prop_assert_eq!(echoed["message"]["body"].as_str(), Some(text.as_str()));
    prop_assert_eq!(
        echoed.get("client_msg_id").and_then(Value::as_str),
        client_msg_id.map(ClientMsgId::as_str)
    );
    prop_assert_eq!(echoed.get("ref").and_then(Value::as_str), reference);
    Ok(())
}

/// Runs a session request through `SessionCommand::parse`: a command whose inputs keep
/// their invariants, or `bad_request`; never `internal`.
fn check_session_request(request: Request, reference: Option<&str>) -> Checked {
    let before = Utc::now();
    let result = SessionCommand::parse(request);
    let after = Utc::now();
    let (session, command) = match result {
        Ok(parsed) => parsed,
        Err(error) => return bad_request(&error),
    };
    match &command {
        SessionCommand::Send {
            client_msg_id,
            content,
        } => {
            if let Some(id) = client_msg_id {
                check_client_msg_id(id.as_str())?;
            }
            check_content(content)?;
            check_ack(reference, session, client_msg_id.as_ref(), content)?;
        }
        SessionCommand::Schedule {
            client_msg_id,
            content,
            send_at,
        } => {
            check_client_msg_id(client_msg_id.as_str())?;
            check_content(content)?;
            let at = send_at.at();
            prop_assert_eq!(at.timestamp_subsec_nanos() % 1000, 0, "{}", at);
            prop_assert!(
                at > before - TimeDelta::microseconds(1),
                "{at} not after {before}"
            );
            prop_assert!(
                at <= after + SendAt::MAX_AHEAD,
                "{at} beyond a week of {after}"
            );
            check_ack(reference, session, Some(client_msg_id), content)?;
        }
        SessionCommand::Typing { .. }
        | SessionCommand::Read { .. }
        | SessionCommand::Resume { .. } => {}
        SessionCommand::History { limit, .. } => {
            prop_assert!((1..=HistoryLimit::MAX).contains(&limit.value()));
        }
        SessionCommand::End { reason } => {
            if let Some(reason) = reason {
                check_remark(&reason.clone().into_inner(), Remark::REASON_CHARS)?;
            }
        }
        SessionCommand::Rate { rating, comment } => {
            prop_assert!((1..=5).contains(&rating.value()));
            if let Some(comment) = comment {
                check_remark(&comment.clone().into_inner(), Remark::COMMENT_CHARS)?;
            }
        }
        SessionCommand::Note { body } => check_body(body.as_str())?,
        SessionCommand::Leave(_) | SessionCommand::Take => {
            prop_assert!(false, "{:?} does not come from a session request", command)
        }
        SessionCommand::Transfer { skills, note, .. } => {
            if let Some(skills) = skills {
                check_labels(skills, 50, is_label)?;
                let encoded = serde_json::to_string(skills)?;
                prop_assert_eq!(&serde_json::from_str::<Vec<String>>(&encoded)?, skills);
            }
            if let Some(note) = note {
                check_remark(&note.clone().into_inner(), Remark::NOTE_CHARS)?;
            }
        }
    }
    Ok(())
}

/// A `session.tag` request: sorted unique labels, and the `session.tagged` frame with
/// them serializes.
fn check_session_tags(tags: &[String], reference: Option<&str>) -> Checked {
    match inputs::session_tags(tags) {
        Ok(tags) => {
            check_labels(&tags, inputs::MAX_SESSION_TAGS, is_label)?;
            prop_assert!(tags.windows(2).all(|pair| pair[0] < pair[1]), "{tags:?}");
            let frame = Frame::SessionTagged {
                reference: reference.map(str::to_owned),
                session_id: SessionId::new(),
                tags: tags.clone(),
            }
            .to_text();
            let echoed: Value = serde_json::from_str(&frame)?;
            prop_assert_eq!(&echoed["tags"], &Value::from(tags));
        }
        Err(error) => bad_request(&error)?,
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    /// (1) Any text at all: no panic, a `ref` of at most 64 characters or none, and a
    /// refusal is always `bad_request`.
    #[test]
    fn parse_never_panics_on_arbitrary_text(text in arbitrary_frame_text()) {
        check_parsed(&protocol::parse(&text))?;
    }

    /// (1) Objects from the frame grammar, sometimes broken: the same, and for a clean
    /// object the `ref` comes back exactly when it is a short string, a frame without
    /// `type` is refused, and a parsed frame is the one its `type` names. Whatever parses
    /// goes on to its handler's parsing (session commands, tags).
    #[test]
    fn parse_handles_frame_shaped_json(frame in grammar_frame()) {
        let parsed = protocol::parse(&frame.text());
        check_parsed(&parsed)?;
        if frame.clean() {
            match frame.field("ref") {
                None | Some(Value::Null) => prop_assert_eq!(parsed.reference.as_deref(), None),
                Some(Value::String(reference))
                    if reference.chars().count() <= MAX_REF_CHARS =>
                {
                    prop_assert_eq!(parsed.reference.as_deref(), Some(reference.as_str()));
                }
                Some(_) => {
                    prop_assert_eq!(parsed.reference.as_deref(), None);
                    prop_assert!(parsed.request.is_err());
                }
            }
            let kind = frame.field("type");
            if kind.is_none_or(Value::is_null) {
                prop_assert!(parsed.request.is_err());
            }
            if let Ok(request) = &parsed.request {
                prop_assert_eq!(Some(request.name()), kind.and_then(Value::as_str));
            }
        }
        let reference = parsed.reference.as_deref();
        match parsed.request {
            Ok(Request::SessionTag { tags, .. }) => check_session_tags(&tags, reference)?,
            Ok(request) if is_session_request(&request) => {
                check_session_request(request, reference)?;
            }
            _ => {}
        }
    }

    /// (2) Well-typed session requests with awkward contents always parse, and become a
    /// command whose inputs keep their invariants, or `bad_request`, never `internal`.
    #[test]
    fn session_requests_become_commands_or_bad_request(frame in session_frame()) {
        let parsed = protocol::parse(&frame.to_string());
        check_parsed(&parsed)?;
        let request = match parsed.request {
            Ok(request) => request,
            Err(error) => return Err(TestCaseError::fail(format!("refused: {error}"))),
        };
        prop_assert!(is_session_request(&request));
        prop_assert_eq!(
            parsed.reference.as_deref(),
            frame.get("ref").and_then(Value::as_str).filter(|r| r.chars().count() <= MAX_REF_CHARS)
        );
        check_session_request(request, parsed.reference.as_deref())?;
    }

    /// (2, 4) A visitor's `session.start`: an opening whose fields keep their invariants
    /// and whose metadata writes back as JSON, or `bad_request` (or `forbidden` for a
    /// priority above medium), never anything else.
    #[test]
    fn session_start_opens_or_refuses_cleanly(frame in session_start_frame()) {
        let parsed = protocol::parse(&frame.to_string());
        let start = match parsed.request {
            Ok(Request::SessionStart(start)) => start,
            other => return Err(TestCaseError::fail(format!("{other:?}"))),
        };
        let jumps_queue = start
            .priority
            .is_some_and(|priority| priority.rank() > Priority::Medium.rank());
        let opening = Opening::parse_for_visitor(OpeningInput {
            priority: start.priority,
            intent: start.intent.as_deref(),
            language: start.language.as_deref(),
            skills: start.skills.as_deref(),
            metadata: start.metadata.clone(),
        });
        match opening {
            Err(error) if jumps_queue => prop_assert_eq!(error.code, ErrorCode::Forbidden),
            Err(error) => bad_request(&error)?,
            Ok(opening) => {
                prop_assert!(!jumps_queue);
                if let Some(intent) = &opening.intent {
                    check_remark(intent, 200)?;
                    check_round_trip(intent)?;
                }
                if let Some(language) = &opening.language {
                    prop_assert!(is_language(language), "{language:?}");
                }
                check_labels(&opening.skills, 50, is_label)?;
                check_metadata(&opening.metadata.into_inner())?;
            }
        }
        match inputs::optional_text("page_url", start.page_url.as_deref(), 2000) {
            Ok(Some(page_url)) => {
                check_remark(&page_url, 2000)?;
                check_round_trip(&page_url)?;
            }
            Ok(None) => {}
            Err(error) => bad_request(&error)?,
        }
    }

    /// (14) A visitor's `message.leave`: an e-mail address, a name and a phone without
    /// control characters, a callback only with a phone, a body as for messages; or
    /// `bad_request`, never anything else.
    #[test]
    fn leave_message_is_kept_or_refused_cleanly(frame in leave_message_frame()) {
        let parsed = protocol::parse(&frame.to_string());
        let raw = match parsed.request {
            Ok(Request::MessageLeave(raw)) => raw,
            other => return Err(TestCaseError::fail(format!("{other:?}"))),
        };
        match LeftMessage::parse(raw) {
            Err(error) => bad_request(&error)?,
            Ok((_, left)) => {
                let email = left.contact.email.as_str();
                let again = Email::parse(email).map(Email::into_inner).ok();
                prop_assert_eq!(again.as_deref(), Some(email));
                for text in [&left.contact.name, &left.contact.phone].into_iter().flatten() {
                    prop_assert!(!text.chars().any(char::is_control), "{text:?}");
                    check_round_trip(text)?;
                }
                prop_assert!(!left.contact.callback || left.contact.phone.is_some());
                check_body(left.body.as_str())?;
            }
        }
    }

    /// (3) A client message id is accepted exactly when it has 1 to 64 characters and no
    /// control character, and is kept as sent.
    #[test]
    fn client_msg_id_is_one_to_64_printable_chars(raw in text()) {
        let valid = (1..=ClientMsgId::MAX_CHARS).contains(&raw.chars().count())
            && !raw.chars().any(char::is_control);
        match ClientMsgId::parse(raw.clone()) {
            Ok(id) => {
                prop_assert!(valid, "accepted {raw:?}");
                check_client_msg_id(id.as_str())?;
                prop_assert_eq!(id.as_str(), raw.as_str());
            }
            Err(error) => {
                prop_assert!(!valid, "refused {raw:?}");
                bad_request(&error)?;
            }
        }
    }

    /// (3) A body is the trimmed text, 1 to 4000 characters, without NUL; a file's caption
    /// the same but possibly empty.
    #[test]
    fn body_and_caption_are_trimmed_bounded_without_nul(raw in prop::option::of(text())) {
        let trimmed = raw.as_deref().map(str::trim).unwrap_or_default();
        let short = trimmed.chars().count() <= inputs::MAX_BODY_CHARS && !trimmed.contains('\0');
        match Body::parse(raw.as_deref()) {
            Ok(body) => {
                prop_assert!(short);
                check_body(body.as_str())?;
                prop_assert_eq!(body.as_str(), trimmed);
            }
            Err(error) => {
                prop_assert!(!short || trimmed.is_empty(), "refused {raw:?}");
                bad_request(&error)?;
            }
        }
        let file = AttachmentId::new();
        match Content::parse(raw.as_deref(), Some(file)) {
            Ok(content) => {
                prop_assert!(short);
                prop_assert_eq!(content.attachment(), Some(file));
                let caption = content.into_text();
                check_caption(&caption)?;
                prop_assert_eq!(caption.as_str(), trimmed);
            }
            Err(error) => {
                prop_assert!(!short, "refused caption {raw:?}");
                bad_request(&error)?;
            }
        }
    }

    /// (3) Remarks and optional text: trimmed, blank means absent, bounded, no control
    /// characters; required text refuses blank.
    #[test]
    fn remarks_and_optional_text_are_trimmed_bounded_without_control(
        raw in prop::option::of(text()),
        max_chars in select(TEXT_LIMITS),
    ) {
        let trimmed = raw.as_deref().map(str::trim).unwrap_or_default();
        let valid = trimmed.chars().count() <= max_chars && !trimmed.chars().any(char::is_control);
        match Remark::parse("reason", raw.as_deref(), max_chars) {
            Ok(None) => prop_assert!(trimmed.is_empty(), "dropped {raw:?}"),
            Ok(Some(remark)) => {
                prop_assert!(valid, "accepted {raw:?}");
                let remark = remark.into_inner();
                check_remark(&remark, max_chars)?;
                prop_assert_eq!(remark.as_str(), trimmed);
            }
            Err(error) => {
                prop_assert!(!valid, "refused {raw:?}");
                bad_request(&error)?;
            }
        }
        match inputs::required_text("name", raw.as_deref().unwrap_or_default(), max_chars) {
            Ok(text) => check_remark(&text, max_chars)?,
            Err(error) => {
                prop_assert!(!valid || trimmed.is_empty(), "refused {raw:?}");
                bad_request(&error)?;
            }
        }
    }

    /// (3, 4) Metadata accepted is an object of at most 16 KiB without NUL that writes
    /// back as JSON unchanged; anything refused is `bad_request`.
    #[test]
    fn metadata_is_a_small_object_without_nul_that_round_trips(
        raw in prop::option::of(metadata_value()),
    ) {
        match Metadata::parse(raw.clone()) {
            Ok(metadata) => {
                let metadata = metadata.into_inner();
                check_metadata(&metadata)?;
                if let Some(raw) = &raw {
                    prop_assert_eq!(&metadata, raw);
                }
            }
            Err(error) => bad_request(&error)?,
        }
    }

    /// (3) Metadata is refused only when Postgres could not store it or it is too big:
    /// not an object, over 16 KiB, or holding a NUL. Strings here mix NUL with the
    /// six characters `\u0000` written out, which `jsonb` stores fine.
    #[test]
    fn metadata_refuses_only_what_postgres_cannot_store(
        entries in prop::collection::vec(
            (
                key_text(),
                prop::collection::vec(select(NUL_LOOKALIKES), 0..4)
                    .prop_map(|parts| parts.concat()),
            ),
            0..4,
        ),
    ) {
        let raw = Value::Object(
            entries.into_iter().map(|(key, value)| (key, Value::String(value))).collect(),
        );
        let storable = !contains_nul(&raw) && raw.to_string().len() <= Metadata::MAX_BYTES;
        match Metadata::parse(Some(raw.clone())) {
            Ok(metadata) => {
                prop_assert!(storable);
                check_metadata(&metadata.into_inner())?;
            }
            Err(error) => {
                prop_assert!(!storable, "refused {}", raw);
                bad_request(&error)?;
            }
        }
    }

    /// (3) Session tags: lower-cased labels `[a-z0-9_-]{1,32}`, deduplicated, sorted, at
    /// most 20; refused exactly when a label is invalid or there are too many.
    #[test]
    fn session_tags_are_sorted_unique_bounded_labels(raw in label_list()) {
        let normalized: BTreeSet<String> =
            raw.iter().map(|tag| tag.trim().to_lowercase()).collect();
        let valid = raw.len() <= 50
            && normalized.len() <= inputs::MAX_SESSION_TAGS
            && normalized.iter().all(|tag| is_label(tag));
        match inputs::session_tags(&raw) {
            Ok(tags) => {
                prop_assert!(valid, "accepted {raw:?}");
                check_session_tags(&raw, None)?;
                prop_assert_eq!(tags.iter().cloned().collect::<BTreeSet<_>>(), normalized);
            }
            Err(error) => {
                prop_assert!(!valid, "refused {raw:?}");
                bad_request(&error)?;
            }
        }
    }

    /// (3) Skills and languages: lower-cased, deduplicated in order of first appearance,
    /// at most 50, each of its alphabet.
    #[test]
    fn skills_and_languages_are_unique_bounded_labels(raw in label_list()) {
        let mut normalized: Vec<String> = Vec::new();
        for label in &raw {
            let label = label.trim().to_lowercase();
            if !normalized.contains(&label) {
                normalized.push(label);
            }
        }
        for (result, valid) in [
            (inputs::skills("skills", &raw), is_label as fn(&str) -> bool),
            (inputs::languages("languages", &raw), is_language),
        ] {
            let expected = raw.len() <= 50 && normalized.iter().all(|label| valid(label));
            match result {
                Ok(labels) => {
                    prop_assert!(expected, "accepted {raw:?}");
                    check_labels(&labels, 50, valid)?;
                    prop_assert_eq!(&labels, &normalized);
                }
                Err(error) => {
                    prop_assert!(!expected, "refused {raw:?}");
                    bad_request(&error)?;
                }
            }
        }
    }

    /// (3) A shortcut is one label as typed (trimmed); a filter tag one label lower-cased.
    #[test]
    fn shortcut_and_filter_tag_are_labels(raw in prop_oneof![label_text(), text()]) {
        match inputs::shortcut(&raw) {
            Ok(shortcut) => {
                prop_assert!(is_label(&shortcut));
                prop_assert_eq!(shortcut.as_str(), raw.trim());
            }
            Err(error) => {
                prop_assert!(!is_label(raw.trim()), "refused {raw:?}");
                bad_request(&error)?;
            }
        }
        match inputs::tag(&raw) {
            Ok(tag) => {
                prop_assert!(is_label(&tag));
                prop_assert_eq!(tag, raw.to_lowercase());
            }
            Err(error) => {
                prop_assert!(!is_label(&raw.to_lowercase()), "refused {raw:?}");
                bad_request(&error)?;
            }
        }
    }

    /// (3) An e-mail address accepted is trimmed, lower-case, without whitespace or
    /// control characters, at most 254 bytes, one `@` with a dotted domain after it.
    #[test]
    fn emails_are_lower_case_without_whitespace(raw in email_text()) {
        match Email::parse(&raw) {
            Ok(email) => {
                let email = email.into_inner();
                prop_assert_eq!(&email, &raw.trim().to_lowercase());
                prop_assert_eq!(&email.to_lowercase(), &email, "not lower-case");
                prop_assert!(!email.chars().any(|c| c.is_whitespace() || c.is_control()));
                prop_assert!(email.len() <= 254);
                let (local, domain) = email.split_once('@').expect("an @");
                prop_assert!(!local.is_empty());
                prop_assert!(!domain.contains('@'));
                prop_assert!(domain.contains('.'));
                prop_assert!(!domain.starts_with('.') && !domain.ends_with('.'));
                check_round_trip(&email)?;
            }
            Err(error) => bad_request(&error)?,
        }
    }

    /// (3) Ratings are 1 to 5, history pages 1 to 200 (50 by default), and a send time
    /// in the future by at most 7 days, kept to the microsecond.
    #[test]
    fn ratings_limits_and_send_at_are_in_range(
        n in int(),
        limit in prop::option::of(int()),
        offset in send_at_offset(),
    ) {
        match Rating::parse(n) {
            Ok(rating) => prop_assert_eq!(i64::from(rating.value()), n),
            Err(error) => {
                prop_assert!(!(1..=5).contains(&n));
                bad_request(&error)?;
            }
        }
        match HistoryLimit::parse(limit) {
            Ok(parsed) => prop_assert_eq!(parsed.value(), limit.unwrap_or(50)),
            Err(error) => {
                prop_assert!(limit.is_some_and(|l| !(1..=HistoryLimit::MAX).contains(&l)));
                bad_request(&error)?;
            }
        }
        let now: DateTime<Utc> = Utc::now();
        let at = now + TimeDelta::nanoseconds(offset);
        let valid = at > now && at <= now + SendAt::MAX_AHEAD;
        match SendAt::parse(at, now) {
            Ok(send_at) => {
                prop_assert!(valid, "accepted {at} at {now}");
                prop_assert_eq!(send_at.at(), at.trunc_subsecs(6));
            }
            Err(error) => {
                prop_assert!(!valid, "refused {at} at {now}");
                bad_request(&error)?;
            }
        }
    }

    /// (4) Whatever text an input type accepts writes back as JSON unchanged, alone and
    /// inside the frames that echo it; so does an error quoting the raw text.
    #[test]
    fn accepted_text_serializes_back_to_json(raw in text(), reference in awkward_text(64)) {
        let accepted = [
            ClientMsgId::parse(raw.clone()).ok().map(ClientMsgId::into_inner),
            Body::parse(Some(raw.as_str())).ok().map(Body::into_inner),
            inputs::caption_text(Some(raw.as_str())).ok(),
            Remark::parse("comment", Some(raw.as_str()), Remark::COMMENT_CHARS)
                .ok()
                .flatten()
                .map(Remark::into_inner),
            Email::parse(&raw).ok().map(Email::into_inner),
            inputs::shortcut(&raw).ok(),
            inputs::tag(&raw).ok(),
        ];
        for text in accepted.iter().flatten() {
            check_round_trip(text)?;
        }
        let id = ClientMsgId::parse(raw.clone());
        if let (Ok(id), Ok(content)) = (id, Content::parse(Some(raw.as_str()), None)) {
            check_ack(Some(reference.as_str()), SessionId::new(), Some(&id), &content)?;
        }
        check_error_frame(Some(reference.as_str()), &Error::bad_request(raw))?;
    }
}
