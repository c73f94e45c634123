//! Attachments: files a participant uploads to a session and then sends with
//! `message.send {attachment_id}`. The bytes are stored under the attachment directory by
//! a random key (no client-chosen name ever reaches the file system); the row keeps the
//! display name, the sniffed content type, the size and a SHA-256.
//!
//! The display name is the client's name made safe to show and to save: path and
//! control characters removed, and an extension that says what the bytes are, so a file
//! saved from a chat opens as what it is, whatever the name claimed.

pub mod incoming;
pub mod outgoing;
pub mod quota;
pub mod sniff;
pub mod sweep;

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::random::random_hex;
use sniff::Kind;

const MAX_NAME_CHARS: usize = 200;

/// A display name that is safe anywhere it is shown or offered for saving: the last path
/// component only, no control characters or bidirectional overrides (which make
/// `invoice\u{202e}fdp.hta` look like `invoiceath.pdf`), not empty, not a dot-name like
/// `..`.
pub fn sanitize_file_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .filter(|&c| !c.is_control() && !is_bidi_control(c))
        .take(MAX_NAME_CHARS)
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    if cleaned.is_empty() {
        "file".to_owned()
    } else {
        cleaned.to_owned()
    }
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// The name a file of `kind` is stored and served under: `name` when its extension is
/// one `kind` usually has, else `name` with the kind's extension appended (text named
/// `run.hta` becomes `run.hta.txt`), so that saving and opening the file gets what the
/// bytes are, not what the name claimed. Trailing dots and spaces go first: Windows drops
/// them when saving, which would turn `run.hta.` back into `run.hta`. A name without any
/// extension is kept: nothing runs it by its name.
pub fn name_for_kind(name: &str, kind: Kind) -> String {
    let name = name.trim_end_matches(['.', ' ']);
    let name = if name.is_empty() { "file" } else { name };
    match extension(name) {
        Some(extension)
            if !kind
                .extensions()
                .iter()
                .any(|usual| extension.eq_ignore_ascii_case(usual)) =>
        {
            format!("{name}.{}", kind.extension())
        }
        _ => name.to_owned(),
    }
}

/// What follows the last dot, unless the dot starts the name or ends it.
fn extension(name: &str) -> Option<&str> {
    let (stem, extension) = name.rsplit_once('.')?;
    (!stem.is_empty() && !extension.is_empty()).then_some(extension)
}

/// A fresh random storage key: 128 bits, hex.
pub fn new_storage_key() -> Result<String> {
    random_hex(16).map_err(Error::internal)
}

/// Where the bytes of `storage_key` live.
pub fn path(dir: &Path, storage_key: &str) -> PathBuf {
    dir.join(storage_key)
}

/// Whether `name` (of a file in the attachment directory) is a storage key.
pub fn is_storage_key(name: &str) -> bool {
    name.len() == 32 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Removes a stored file; one that is already gone is not an error.
pub fn remove(path: &Path) {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => log::warn!("cannot remove {}: {error}", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_paths_and_control_characters() {
        assert_eq!(sanitize_file_name("../../etc/passwd"), "passwd");
        assert_eq!(sanitize_file_name("C:\\Users\\me\\photo.png"), "photo.png");
        assert_eq!(sanitize_file_name("re\u{0}port\n.pdf"), "report.pdf");
        assert_eq!(sanitize_file_name(".."), "file");
        assert_eq!(sanitize_file_name(".bashrc"), "bashrc");
        assert_eq!(sanitize_file_name(""), "file");
    }

    #[test]
    fn names_lose_bidirectional_overrides() {
        assert_eq!(
            sanitize_file_name("invoice\u{202e}fdp.hta"),
            "invoicefdp.hta"
        );
        assert_eq!(sanitize_file_name("\u{2067}a.txt\u{2069}"), "a.txt");
    }

    #[test]
    fn a_name_that_already_says_what_the_file_is_is_kept() {
        assert_eq!(name_for_kind("photo.png", Kind::Png), "photo.png");
        assert_eq!(name_for_kind("PHOTO.PNG", Kind::Png), "PHOTO.PNG");
        assert_eq!(name_for_kind("holiday.jpeg", Kind::Jpeg), "holiday.jpeg");
        assert_eq!(name_for_kind("notes.txt", Kind::Text), "notes.txt");
        assert_eq!(name_for_kind("report.docx", Kind::Zip), "report.docx");
        assert_eq!(name_for_kind("invoice.pdf", Kind::Pdf), "invoice.pdf");
    }

    #[test]
    fn a_name_that_claims_another_kind_gets_the_right_extension() {
        assert_eq!(name_for_kind("run.hta", Kind::Text), "run.hta.txt");
        assert_eq!(name_for_kind("page.html", Kind::Text), "page.html.txt");
        assert_eq!(name_for_kind("table.csv", Kind::Text), "table.csv.txt");
        assert_eq!(name_for_kind("scan.png", Kind::Jpeg), "scan.png.jpg");
        assert_eq!(name_for_kind("tool.jar", Kind::Zip), "tool.jar.zip");
        assert_eq!(name_for_kind("cv.exe", Kind::Pdf), "cv.exe.pdf");
        assert_eq!(name_for_kind("pic.gif", Kind::Webp), "pic.gif.webp");
    }

    #[test]
    fn trailing_dots_and_spaces_cannot_hide_an_extension() {
        assert_eq!(name_for_kind("run.hta.", Kind::Text), "run.hta.txt");
        assert_eq!(name_for_kind("run.hta. . ", Kind::Text), "run.hta.txt");
        assert_eq!(name_for_kind("photo.png.", Kind::Png), "photo.png");
        assert_eq!(name_for_kind("...", Kind::Text), "file");
    }

    #[test]
    fn a_name_without_an_extension_is_kept() {
        assert_eq!(name_for_kind("passwd", Kind::Text), "passwd");
        assert_eq!(name_for_kind("file", Kind::Png), "file");
    }

    #[test]
    fn storage_keys_are_32_hex_characters() {
        let key = new_storage_key().unwrap();
        assert!(is_storage_key(&key), "{key}");
        assert!(!is_storage_key("photo.png"));
        assert!(!is_storage_key(&format!("{key}.part")));
    }
}
