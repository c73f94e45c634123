//! How much one session may hold (SPEC section 12: at most 50 files and 100 MiB by
//! default, counting every file uploaded to it, sent or not). A rule on numbers, so it is
//! tested without a database: the upload handler asks it before reading the body (to
//! refuse at once, and to stop the file where the session's room ends) and again, with
//! the session row locked, before storing the row, so two uploads at once cannot both
//! take the last room.
//!
//! Past the quota the answer is 413 `too_large`: the request is refused because of its
//! size, and no retry makes room (a 409 would suggest waiting for some other state).

use crate::config::Limits;
use crate::error::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionQuota {
    pub files: i64,
    pub bytes: i64,
}

/// What a session's files take up now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub files: i64,
    pub bytes: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverQuota {
    Files { limit: i64 },
    Bytes { limit: i64 },
}

impl SessionQuota {
    pub fn new(limits: &Limits) -> SessionQuota {
        SessionQuota {
            files: limits.session_files,
            bytes: limits.session_file_bytes,
        }
    }

    /// How many bytes one more file may have next to `usage`; refused when not even a
    /// one-byte file fits.
    pub fn room(&self, usage: Usage) -> Result<u64, OverQuota> {
        if usage.files >= self.files {
            return Err(OverQuota::Files { limit: self.files });
        }
        match u64::try_from(self.bytes.saturating_sub(usage.bytes)) {
            Ok(room) if room > 0 => Ok(room),
            _ => Err(OverQuota::Bytes { limit: self.bytes }),
        }
    }

    /// Whether a file of `size` bytes may join the files of `usage`.
    pub fn admit(&self, usage: Usage, size: u64) -> Result<(), OverQuota> {
        if size > self.room(usage)? {
            return Err(OverQuota::Bytes { limit: self.bytes });
        }
        Ok(())
    }
}

impl From<OverQuota> for Error {
    fn from(over: OverQuota) -> Error {
        match over {
            OverQuota::Files { limit } => Error::too_large(format!(
                "this session already holds {limit} files, the most it may"
            )),
            OverQuota::Bytes { limit } => Error::too_large(format!(
                "the files of one session may total at most {limit} bytes"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    const QUOTA: SessionQuota = SessionQuota {
        files: 3,
        bytes: 100,
    };

    fn usage(files: i64, bytes: i64) -> Usage {
        Usage { files, bytes }
    }

    #[test]
    fn a_file_fits_while_the_session_has_room() {
        assert_eq!(QUOTA.room(usage(0, 0)), Ok(100));
        assert_eq!(QUOTA.room(usage(2, 60)), Ok(40));
        assert_eq!(QUOTA.admit(usage(2, 60), 40), Ok(()));
    }

    #[test]
    fn one_file_too_many_is_refused() {
        let over = OverQuota::Files { limit: 3 };
        assert_eq!(QUOTA.room(usage(3, 10)), Err(over));
        assert_eq!(QUOTA.admit(usage(3, 10), 1), Err(over));
    }

    #[test]
    fn one_byte_too_many_is_refused() {
        let over = OverQuota::Bytes { limit: 100 };
        assert_eq!(QUOTA.admit(usage(1, 60), 41), Err(over));
        assert_eq!(QUOTA.room(usage(1, 100)), Err(over));
        // Lowered limits leave sessions over them, which take nothing more.
        assert_eq!(QUOTA.room(usage(1, 150)), Err(over));
    }

    #[test]
    fn the_refusal_is_too_large_and_names_the_limit() {
        let error = Error::from(OverQuota::Files { limit: 3 });
        assert_eq!(error.code, ErrorCode::TooLarge);
        assert!(error.message.contains('3'), "{}", error.message);
        let error = Error::from(OverQuota::Bytes { limit: 100 });
        assert_eq!(error.code, ErrorCode::TooLarge);
        assert!(error.message.contains("100 bytes"), "{}", error.message);
    }
}
