//! The business hours every request reads. Checking them on each `session.start` and
//! `/availability` call must not cost a database read each, but a change an admin
//! makes on any node of a cluster must show everywhere soon: so the copy is read again
//! from Postgres once it is [`FRESH_FOR`] old, and a `PUT` on this node replaces it at
//! once. One read at a time: callers arriving while it runs wait for its result rather
//! than each taking a database connection.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::Mutex;

use super::openness::Openness;
use super::schedule::{BusinessHours, BusinessHoursDoc};
use crate::db::{self, Db};
use crate::error::{Error, Result};

/// How long a copy read from Postgres is used before it is read again: how long a
/// change made on another node may take to show here.
pub const FRESH_FOR: Duration = Duration::from_secs(2);

#[derive(Default)]
pub struct Hours {
    cached: Mutex<Cached>,
}

#[derive(Default)]
struct Cached {
    schedule: Option<Arc<BusinessHours>>,
    /// When the read that gave `schedule` started; never read yet when `None`.
    read_at: Option<Instant>,
}

impl Hours {
    /// The business hours in force; `None` when none were ever set (always open).
    pub async fn current(&self, db: &Db) -> Result<Option<Arc<BusinessHours>>> {
        let mut cached = self.cached.lock().await;
        if cached.read_at.is_some_and(|at| at.elapsed() < FRESH_FOR) {
            return Ok(cached.schedule.clone());
        }
        let started = Instant::now();
        let read = db.run(|conn| Ok(db::business_hours::load(conn)?)).await;
        let schedule = match read.and_then(|stored| stored.map(parse_stored).transpose()) {
            Ok(schedule) => schedule.map(Arc::new),
            // Through a database blip the hours last read stay in force, tried again
            // when they are due, rather than every chat start failing with the read.
            Err(error) if cached.read_at.is_some() => {
                log::warn!("business hours not read again: {}", error.message);
                cached.schedule.clone()
            }
            Err(error) => return Err(error),
        };
        *cached = Cached {
            schedule: schedule.clone(),
            read_at: Some(started),
        };
        Ok(schedule)
    }

    /// Whether a chat asking for `skills` can start at `now`.
    pub async fn openness(
        &self,
        db: &Db,
        skills: &[String],
        now: DateTime<Utc>,
    ) -> Result<Openness> {
        Ok(match self.current(db).await? {
            Some(schedule) => schedule.openness(skills, now),
            None => Openness::Open,
        })
    }

    /// The hours just stored on this node (`None`: just removed): in force here at once.
    /// Waits for a read under way, so an older copy it brings cannot replace this one.
    pub async fn replace(&self, schedule: Option<Arc<BusinessHours>>) {
        *self.cached.lock().await = Cached {
            schedule,
            read_at: Some(Instant::now()),
        };
    }
}

/// Stored hours were checked when they were written; failing now (a time zone gone
/// from a newer zone database) is the server's problem, not the caller's.
fn parse_stored(stored: serde_json::Value) -> Result<BusinessHours> {
    let doc: BusinessHoursDoc = serde_json::from_value(stored)
        .map_err(|e| Error::internal(format!("stored business hours: {e}")))?;
    BusinessHours::parse(&doc)
        .map_err(|e| Error::internal(format!("stored business hours: {}", e.message)))
}
