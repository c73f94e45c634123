//! Messages to the `Scheduler`.

use actix::Message;
use chrono::{DateTime, Utc};

use crate::domain::{ScheduledId, SessionId};

/// A new pending row to wait for.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Schedule {
    pub id: ScheduledId,
    pub session: SessionId,
    pub send_at: DateTime<Utc>,
}

/// Rows that are no longer pending (unscheduled, or cancelled with their session).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Forget(pub Vec<ScheduledId>);

/// What sessions tell the scheduler, as recipients (see `DispatcherInbox`).
#[derive(Clone)]
pub struct SchedulerInbox {
    pub schedule: actix::Recipient<Schedule>,
    pub forget: actix::Recipient<Forget>,
}
