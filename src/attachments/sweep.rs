//! Deletes uploads never sent in a message once they are older than
//! `unsent_upload_secs` (SPEC section 12: 24 hours by default), row first, then file, so
//! that uploading without sending cannot fill the disk. A pass runs every minute (more
//! often when the limit is shorter), a batch at a time, each batch in its own short
//! transaction.
//!
//! A pass only looks at attachments created since the previous pass's cut-off (less a
//! margin): ids are time-ordered, so the primary key index jumps over the files sent long
//! ago instead of reading them all every minute. The first pass after start looks at
//! everything. Files a crash left without a row are looked for at start and then once
//! per age limit.
//!
//! Every node may run a sweep: a row is deleted by one of them (locked rows are skipped),
//! and that one removes the file.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use crate::config::Config;
use crate::db::{self, Db};
use crate::error::{Error, Result};

/// Rows deleted per transaction.
const BATCH: i64 = 500;
/// Storage keys looked up per query when looking for files without a row.
const KEYS_PER_QUERY: usize = 1000;
/// How often a pass runs at most.
const EVERY: Duration = Duration::from_secs(60);
/// How far before the last cut-off a pass looks again: a row can become visible after
/// the pass that should have seen it (a long insert), and ids come from the clock of the
/// node that took the upload.
const MARGIN: TimeDelta = TimeDelta::minutes(10);

pub struct UnsentUploadSweep {
    db: Db,
    dir: PathBuf,
    max_age: Duration,
    /// Attachments created before this were looked at by an earlier pass; `None` until
    /// the first pass.
    swept_before: Option<DateTime<Utc>>,
}

impl UnsentUploadSweep {
    /// Starts sweeping on the current actix system, for as long as it runs.
    pub fn start(db: Db, config: &Config) {
        let sweep = UnsentUploadSweep {
            db,
            dir: config.attachment_dir(),
            max_age: Duration::from_secs(config.limits.unsent_upload_secs),
            swept_before: None,
        };
        actix_web::rt::spawn(sweep.run());
    }

    async fn run(mut self) {
        let mut orphans_looked_for: Option<std::time::Instant> = None;
        loop {
            // A crash between writing a file and its row leaves a file that only the
            // directory knows; listing it is costly, so once per age limit.
            if orphans_looked_for.is_none_or(|at| at.elapsed() >= self.max_age) {
                orphans_looked_for = Some(std::time::Instant::now());
                if let Err(error) = self.remove_files_without_row().await {
                    log::warn!("attachments: looking for files without a row failed: {error}");
                }
            }
            if let Err(error) = self.sweep().await {
                log::warn!("attachments: sweeping unsent uploads failed, will retry: {error}");
            }
            actix_web::rt::time::sleep(period(self.max_age)).await;
        }
    }

    /// One pass: deletes every unsent upload past the age, a batch at a time.
    async fn sweep(&mut self) -> Result<()> {
        let created_before = cutoff(Utc::now(), self.max_age);
        let below = first_id_at(created_before);
        let mut after = self
            .swept_before
            .map_or(Uuid::nil(), |swept| first_id_at(swept - MARGIN));
        let mut deleted = 0;
        loop {
            let swept = self
                .db
                .run(move |conn| {
                    Ok(db::attachments::delete_unsent(
                        conn,
                        after,
                        below,
                        created_before,
                        BATCH,
                    )?)
                })
                .await?;
            deleted += swept.len();
            let more = swept.len() as i64 == BATCH;
            if let Some(last) = swept.last() {
                after = last.id.0;
            }
            self.remove(swept.into_iter().map(|s| s.storage_key).collect())
                .await?;
            if !more {
                break;
            }
        }
        self.swept_before = Some(created_before);
        if deleted > 0 {
            log::info!(
                "attachments: deleted {deleted} uploads not sent within {}s",
                self.max_age.as_secs()
            );
        }
        Ok(())
    }

    /// Removes files older than the age that no row names: what a crash between writing
    /// a file and storing (or refusing) its row left behind.
    async fn remove_files_without_row(&self) -> Result<()> {
        let dir = self.dir.clone();
        let older_than = SystemTime::now()
            .checked_sub(self.max_age)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let old = actix_web::web::block(move || old_files(&dir, older_than))
            .await
            .map_err(Error::internal)?
            .map_err(|e| Error::internal(format!("listing the attachment directory: {e}")))?;
        let mut removed = 0;
        for keys in old.chunks(KEYS_PER_QUERY) {
            let keys = keys.to_vec();
            let lookup = keys.clone();
            let stored = self
                .db
                .run(move |conn| Ok(db::attachments::stored_keys(conn, &lookup)?))
                .await?;
            let stored: HashSet<String> = stored.into_iter().collect();
            let orphans: Vec<String> = keys.into_iter().filter(|k| !stored.contains(k)).collect();
            removed += orphans.len();
            self.remove(orphans).await?;
        }
        if removed > 0 {
            log::info!("attachments: removed {removed} files without a row");
        }
        Ok(())
    }

    async fn remove(&self, keys: Vec<String>) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let dir = self.dir.clone();
        actix_web::web::block(move || {
            for key in keys {
                super::remove(&super::path(&dir, &key));
            }
        })
        .await
        .map_err(Error::internal)
    }
}

/// The storage keys of files in `dir` last written before `older_than`.
fn old_files(dir: &std::path::Path, older_than: SystemTime) -> std::io::Result<Vec<String>> {
    let mut old = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let modified = entry.metadata()?.modified()?;
        if super::is_storage_key(&name) && modified < older_than {
            old.push(name);
        }
    }
    Ok(old)
}

/// How long to wait between passes: a minute, or the age limit when that is shorter (so
/// a short limit, as in tests, is kept to within about itself), never less than a second.
pub fn period(max_age: Duration) -> Duration {
    max_age.clamp(Duration::from_secs(1), EVERY)
}

/// Uploads created before this are due at `now`.
pub fn cutoff(now: DateTime<Utc>, max_age: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(max_age)
        .ok()
        .and_then(|age| now.checked_sub_signed(age))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The smallest v7 uuid of the millisecond `at`: every id made at `at` or later is at
/// least this, every id made before is less (uuids compare as big-endian bytes, and a v7
/// id starts with its Unix time in milliseconds).
pub fn first_id_at(at: DateTime<Utc>) -> Uuid {
    let millis = u128::try_from(at.timestamp_millis()).unwrap_or(0) & ((1 << 48) - 1);
    Uuid::from_u128(millis << 80)
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::{NoContext, Timestamp};

    fn id_at(at: DateTime<Utc>) -> Uuid {
        let nanos = at.timestamp_subsec_nanos();
        Uuid::new_v7(Timestamp::from_unix(
            NoContext,
            at.timestamp() as u64,
            nanos,
        ))
    }

    #[test]
    fn ids_made_before_a_moment_sort_below_its_first_id_and_later_ones_do_not() {
        let moment = Utc::now();
        let first = first_id_at(moment);
        for _ in 0..100 {
            assert!(id_at(moment - TimeDelta::milliseconds(1)) < first);
            assert!(id_at(moment) >= first);
            assert!(id_at(moment + TimeDelta::milliseconds(1)) > first);
        }
        assert!(Uuid::now_v7() > first_id_at(moment - TimeDelta::days(1)));
        assert_eq!(first_id_at(DateTime::<Utc>::MIN_UTC), Uuid::nil());
    }

    #[test]
    fn passes_run_every_minute_or_as_often_as_a_shorter_limit() {
        assert_eq!(period(Duration::from_secs(24 * 3600)), EVERY);
        assert_eq!(period(Duration::from_secs(5)), Duration::from_secs(5));
        assert_eq!(period(Duration::ZERO), Duration::from_secs(1));
    }

    #[test]
    fn the_cutoff_is_the_age_limit_ago() {
        let now = Utc::now();
        assert_eq!(
            cutoff(now, Duration::from_secs(60)),
            now - TimeDelta::seconds(60)
        );
        assert_eq!(cutoff(now, Duration::MAX), DateTime::<Utc>::MIN_UTC);
    }
}
