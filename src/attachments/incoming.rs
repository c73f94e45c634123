//! A file being received: written under the attachment directory by a fresh random key
//! (never overwriting a file) as its bytes arrive, hashed as it goes, and removed again
//! unless it is kept. Writes run on the blocking thread pool a buffer at a time, so a
//! large upload holds neither its size in memory nor an actix worker while the disk
//! works, and a slow sender holds no thread while the network is quiet.
//!
//! The file is removed on every way out but one: a refusal or an error removes it
//! ([`IncomingFile::discard`], [`IncomingFile::remove`]), and so does dropping an
//! [`IncomingFile`] that was not kept, which is what happens when the client goes away
//! mid-upload (the handler's future is dropped, and this with it).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::random::hex;

/// Bytes gathered before one write to disk: few trips to the thread pool, little memory.
const WRITE_SIZE: usize = 64 * 1024;

pub struct IncomingFile {
    storage_key: String,
    path: PathBuf,
    /// `None` while a write runs on the thread pool, after a failed one, and once
    /// finished.
    writer: Option<Writer>,
    buffer: Vec<u8>,
    size: u64,
    kept: bool,
}

struct Writer {
    file: File,
    hasher: Sha256,
}

/// A complete file: its size and SHA-256 (hex).
pub struct Written {
    pub size: u64,
    pub sha256: String,
}

impl IncomingFile {
    /// Creates a new, empty file under `dir` with a random name.
    pub async fn create(dir: &Path) -> Result<IncomingFile> {
        let storage_key = super::new_storage_key()?;
        let path = super::path(dir, &storage_key);
        let target = path.clone();
        let file =
            blocking(move || OpenOptions::new().write(true).create_new(true).open(target)).await?;
        Ok(IncomingFile {
            storage_key,
            path,
            writer: Some(Writer {
                file,
                hasher: Sha256::new(),
            }),
            buffer: Vec::with_capacity(WRITE_SIZE),
            size: 0,
            kept: false,
        })
    }

    pub fn storage_key(&self) -> &str {
        &self.storage_key
    }

    /// Bytes received so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends `bytes`; they reach the disk once a buffer's worth has gathered.
    pub async fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.buffer.extend_from_slice(bytes);
        self.size += bytes.len() as u64;
        if self.buffer.len() >= WRITE_SIZE {
            self.flush().await?;
        }
        Ok(())
    }

    /// Writes what is buffered and makes the file durable; returns its size and hash.
    pub async fn finish(&mut self) -> Result<Written> {
        self.flush().await?;
        let Writer { file, hasher } = self.take_writer()?;
        let sha256 = blocking(move || {
            file.sync_all()?;
            Ok(hex(&hasher.finalize()))
        })
        .await?;
        Ok(Written {
            size: self.size,
            sha256,
        })
    }

    /// Keeps the file for good: its row is stored.
    pub fn keep(mut self) {
        self.kept = true;
    }

    /// Removes the file now; for a blocking thread.
    pub fn remove(mut self) {
        self.kept = true;
        super::remove(&self.path);
    }

    /// Removes the file and waits until it is gone, so a refusal answers only once the
    /// bytes it refused are off the disk.
    pub async fn discard(mut self) {
        self.kept = true;
        let path = std::mem::take(&mut self.path);
        if let Err(error) = actix_web::web::block(move || super::remove(&path)).await {
            log::warn!("attachments: removing a refused upload failed: {error}");
        }
    }

    async fn flush(&mut self) -> Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let mut writer = self.take_writer()?;
        let mut buffer = std::mem::take(&mut self.buffer);
        let (writer, buffer) = blocking(move || {
            writer.file.write_all(&buffer)?;
            writer.hasher.update(&buffer);
            buffer.clear();
            Ok((writer, buffer))
        })
        .await?;
        self.writer = Some(writer);
        self.buffer = buffer;
        Ok(())
    }

    fn take_writer(&mut self) -> Result<Writer> {
        self.writer
            .take()
            .ok_or_else(|| Error::internal(format!("{} is not writable", self.path.display())))
    }
}

impl Drop for IncomingFile {
    fn drop(&mut self) {
        if self.kept {
            return;
        }
        let path = std::mem::take(&mut self.path);
        // Off the async thread when there is a runtime (a dropped handler); at once on a
        // blocking thread or without one.
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(move || super::remove(&path))),
            Err(_) => super::remove(&path),
        }
    }
}

/// Runs file work on the blocking thread pool; a failure is the server's, not the caller's.
async fn blocking<T, F>(work: F) -> Result<T>
where
    F: FnOnce() -> std::io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    actix_web::web::block(work)
        .await
        .map_err(Error::internal)?
        .map_err(|e| Error::internal(format!("attachment file: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch_dir() -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("switchboard-incoming-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[actix_web::test]
    async fn a_kept_file_holds_every_byte_and_its_hash() {
        let dir = scratch_dir();
        let mut file = IncomingFile::create(&dir).await.unwrap();
        let chunk = vec![b'x'; 40 * 1024];
        for _ in 0..3 {
            file.write(&chunk).await.unwrap();
        }
        let written = file.finish().await.unwrap();
        let path = super::super::path(&dir, file.storage_key());
        file.keep();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!((written.size, bytes.len()), (120 * 1024, 120 * 1024));
        assert_eq!(written.sha256, hex(&Sha256::digest(&bytes)));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[actix_web::test]
    async fn a_file_dropped_before_it_is_kept_is_removed() {
        let dir = scratch_dir();
        let mut file = IncomingFile::create(&dir).await.unwrap();
        file.write(&vec![b'x'; 100 * 1024]).await.unwrap();
        let path = super::super::path(&dir, file.storage_key());
        assert!(path.exists());
        drop(file);
        for _ in 0..100 {
            if !path.exists() {
                break;
            }
            actix_web::rt::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(!path.exists());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
