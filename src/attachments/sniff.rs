//! Decides what an uploaded file is from its first bytes, never from the name or the
//! type the client claims: those are free to lie, the magic bytes are what a program
//! opening the file will act on. Only known, harmless kinds are accepted; executables
//! and scripts are refused by name so the refusal is deliberate, not an accident of the
//! allow-list.

/// The outcome of looking at a file's first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    Accepted(&'static str),
    Executable,
    Unknown,
}

/// How many leading bytes [`sniff`] needs to see.
pub const SNIFF_LEN: usize = 1024;

const KINDS: &[(&[u8], &str)] = &[
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
    (b"PK\x05\x06", "application/zip"),
];

const EXECUTABLES: &[&[u8]] = &[
    b"\x7fELF",          // Linux and most Unixes
    b"MZ",               // Windows PE, DOS
    b"\xfe\xed\xfa\xce", // Mach-O 32-bit
    b"\xfe\xed\xfa\xcf", // Mach-O 64-bit
    b"\xce\xfa\xed\xfe", // Mach-O 32-bit, little-endian
    b"\xcf\xfa\xed\xfe", // Mach-O 64-bit, little-endian
    b"\xca\xfe\xba\xbe", // Mach-O universal binary (and Java classes)
    b"#!",               // scripts run by an interpreter
    b"\0asm",            // WebAssembly
];

/// Classifies `head`, the first (up to [`SNIFF_LEN`]) bytes of a file.
pub fn sniff(head: &[u8]) -> Sniffed {
    if head.is_empty() {
        return Sniffed::Unknown;
    }
    if EXECUTABLES.iter().any(|magic| head.starts_with(magic)) {
        return Sniffed::Executable;
    }
    if let Some((_, kind)) = KINDS.iter().find(|(magic, _)| head.starts_with(magic)) {
        return Sniffed::Accepted(kind);
    }
    if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        return Sniffed::Accepted("image/webp");
    }
    if is_text(head) {
        return Sniffed::Accepted("text/plain; charset=utf-8");
    }
    Sniffed::Unknown
}

/// UTF-8 without control characters other than whitespace. A multi-byte character cut
/// off at the end of `head` still counts as text.
fn is_text(head: &[u8]) -> bool {
    let valid = match std::str::from_utf8(head) {
        Ok(text) => text,
        Err(error) if error.error_len().is_none() => {
            std::str::from_utf8(&head[..error.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return false,
    };
    !valid
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\x0c'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_documents_and_archives_are_recognised() {
        assert_eq!(
            sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            Sniffed::Accepted("image/png")
        );
        assert_eq!(sniff(b"\xff\xd8\xff\xe0"), Sniffed::Accepted("image/jpeg"));
        assert_eq!(sniff(b"GIF89a..."), Sniffed::Accepted("image/gif"));
        assert_eq!(
            sniff(b"RIFF\x24\0\0\0WEBPVP8 "),
            Sniffed::Accepted("image/webp")
        );
        assert_eq!(sniff(b"%PDF-1.7\n"), Sniffed::Accepted("application/pdf"));
        assert_eq!(
            sniff(b"PK\x03\x04\x14\0"),
            Sniffed::Accepted("application/zip")
        );
        assert_eq!(
            sniff("héllo\nwörld".as_bytes()),
            Sniffed::Accepted("text/plain; charset=utf-8")
        );
    }

    #[test]
    fn executables_and_scripts_are_refused() {
        for head in [
            &b"\x7fELF\x02\x01\x01"[..],
            b"MZ\x90\0",
            b"\xcf\xfa\xed\xfe\x07\0",
            b"#!/bin/sh\nrm -rf /\n",
        ] {
            assert_eq!(sniff(head), Sniffed::Executable, "{head:?}");
        }
    }

    #[test]
    fn unknown_binary_is_not_text() {
        assert_eq!(sniff(b"\0\x01\x02\x03binary"), Sniffed::Unknown);
        assert_eq!(sniff(b""), Sniffed::Unknown);
        // A character cut in half by the sniffing window is still text.
        assert_eq!(
            sniff(&"aé".as_bytes()[..2]),
            Sniffed::Accepted("text/plain; charset=utf-8")
        );
    }
}
