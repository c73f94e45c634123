//! A stored file on its way to a download: read a chunk at a time on the blocking pool,
//! so a download holds one chunk in memory however large the file, and a thousand
//! downloads at once hold a thousand chunks, not a thousand files.

use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;

use actix_web::web::{self, Bytes};
use futures_util::Stream;

use crate::error::{Error, Result};

const CHUNK: usize = 64 * 1024;

/// An opened file and its length.
pub struct OutgoingFile {
    file: File,
    pub len: u64,
}

impl OutgoingFile {
    /// Opens the file, so that a missing one is an error before the response starts.
    pub async fn open(path: PathBuf) -> Result<OutgoingFile> {
        web::block(move || {
            let file = File::open(&path)?;
            let len = file.metadata()?.len();
            Ok::<_, io::Error>(OutgoingFile { file, len })
        })
        .await
        .map_err(Error::internal)?
        .map_err(|e| Error::internal(format!("stored file unreadable: {e}")))
    }

    /// The file's bytes, a chunk at a time.
    pub fn into_stream(self) -> impl Stream<Item = io::Result<Bytes>> {
        futures_util::stream::try_unfold(self.file, |mut file| async move {
            let (file, chunk) = web::block(move || {
                let mut chunk = vec![0; CHUNK];
                let read = file.read(&mut chunk)?;
                chunk.truncate(read);
                Ok::<_, io::Error>((file, chunk))
            })
            .await
            .map_err(io::Error::other)??;
            Ok((!chunk.is_empty()).then(|| (Bytes::from(chunk), file)))
        })
    }
}
