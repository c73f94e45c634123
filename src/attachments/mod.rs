//! Attachments: files a participant uploads to a session and then sends with
//! `message.send {attachment_id}`. The bytes are stored under the attachment directory by
//! a random key (no client-chosen name ever reaches the file system); the row keeps the
//! sanitised display name, the sniffed content type, the size and a SHA-256.

pub mod sniff;

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::random::{hex, random_hex};

const MAX_NAME_CHARS: usize = 200;

/// A display name that is safe anywhere it is shown or offered for saving: the last path
/// component only, no control characters, not empty, not a dot-name like `..`.
pub fn sanitize_file_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME_CHARS)
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    if cleaned.is_empty() {
        "file".to_owned()
    } else {
        cleaned.to_owned()
    }
}

/// A fresh random storage key: 128 bits, hex.
pub fn new_storage_key() -> Result<String> {
    random_hex(16).map_err(Error::internal)
}

/// Where the bytes of `storage_key` live.
pub fn path(dir: &Path, storage_key: &str) -> PathBuf {
    dir.join(storage_key)
}

/// Writes `bytes` to a new file (never overwriting one) and returns their SHA-256 in hex.
pub fn store(dir: &Path, storage_key: &str, bytes: &[u8]) -> Result<String> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path(dir, storage_key))
        .map_err(Error::internal)?;
    file.write_all(bytes).map_err(Error::internal)?;
    file.sync_all().map_err(Error::internal)?;
    Ok(hex(&Sha256::digest(bytes)))
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
}
