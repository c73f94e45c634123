//! Decides what an uploaded file is from its first bytes, never from the name or the
//! type the client claims: those are free to lie, the magic bytes are what a program
//! opening the file will act on. Only known, harmless kinds are accepted; executables
//! and scripts are refused by name so the refusal is deliberate, not an accident of the
//! allow-list.

/// The outcome of looking at a file's first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    Accepted(Kind),
    Executable,
    Unknown,
}

/// A kind of file the server accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Png,
    Jpeg,
    Gif,
    Webp,
    Pdf,
    Zip,
    Text,
}

impl Kind {
    /// The `Content-Type` the file is stored and served with.
    pub fn content_type(self) -> &'static str {
        match self {
            Kind::Png => "image/png",
            Kind::Jpeg => "image/jpeg",
            Kind::Gif => "image/gif",
            Kind::Webp => "image/webp",
            Kind::Pdf => "application/pdf",
            Kind::Zip => "application/zip",
            Kind::Text => "text/plain; charset=utf-8",
        }
    }

    /// The extension a name gets when it has none of [`Kind::extensions`].
    pub fn extension(self) -> &'static str {
        self.extensions()[0]
    }

    /// The extensions (lower case, without the dot) a file of this kind usually has and
    /// that the programs opening it by name treat as this kind; the first is
    /// [`Kind::extension`]. Zip containers that are documents
    /// (OOXML and OpenDocument without macros) keep their names; `jar`, `apk` and the
    /// like do not, they are run rather than opened. Text is only text when the name
    /// says so: `html`, `svg`, `js`, `hta`, `bat`, `ps1`… are programs a click runs, and
    /// `csv` is a spreadsheet that may run formulas.
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            Kind::Png => &["png"],
            Kind::Jpeg => &["jpg", "jpeg", "jpe", "jfif"],
            Kind::Gif => &["gif"],
            Kind::Webp => &["webp"],
            Kind::Pdf => &["pdf"],
            Kind::Zip => &["zip", "docx", "xlsx", "pptx", "odt", "ods", "odp"],
            Kind::Text => &["txt", "text", "log"],
        }
    }
}

/// How many leading bytes [`sniff`] needs to see.
pub const SNIFF_LEN: usize = 1024;

const KINDS: &[(&[u8], Kind)] = &[
    (b"\x89PNG\r\n\x1a\n", Kind::Png),
    (b"\xff\xd8\xff", Kind::Jpeg),
    (b"GIF87a", Kind::Gif),
    (b"GIF89a", Kind::Gif),
    (b"%PDF-", Kind::Pdf),
    (b"PK\x03\x04", Kind::Zip),
    (b"PK\x05\x06", Kind::Zip),
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
        return Sniffed::Accepted(*kind);
    }
    if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        return Sniffed::Accepted(Kind::Webp);
    }
    if is_text(head) {
        return Sniffed::Accepted(Kind::Text);
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
            Sniffed::Accepted(Kind::Png)
        );
        assert_eq!(sniff(b"\xff\xd8\xff\xe0"), Sniffed::Accepted(Kind::Jpeg));
        assert_eq!(sniff(b"GIF89a..."), Sniffed::Accepted(Kind::Gif));
        assert_eq!(
            sniff(b"RIFF\x24\0\0\0WEBPVP8 "),
            Sniffed::Accepted(Kind::Webp)
        );
        assert_eq!(sniff(b"%PDF-1.7\n"), Sniffed::Accepted(Kind::Pdf));
        assert_eq!(sniff(b"PK\x03\x04\x14\0"), Sniffed::Accepted(Kind::Zip));
        assert_eq!(
            sniff("héllo\nwörld".as_bytes()),
            Sniffed::Accepted(Kind::Text)
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
        assert_eq!(sniff(&"aé".as_bytes()[..2]), Sniffed::Accepted(Kind::Text));
    }
}
