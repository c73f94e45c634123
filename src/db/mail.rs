//! The mail outbox (`mail_outbox`): written with the change that causes each mail,
//! claimed and settled by the sender, listed for admins. The table belongs to mail alone,
//! so it is declared here rather than in the generated schema.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Interval};
use uuid::Uuid;

use super::schema::messages;
use crate::domain::{MessageKind, ParticipantType, SessionId};
use crate::mail::{Mail, MailKind};

diesel::table! {
    mail_outbox (id) {
        id -> Uuid,
        session_id -> Uuid,
        kind -> Text,
        to_address -> Text,
        to_name -> Nullable<Text>,
        subject -> Text,
        body -> Text,
        created_at -> Timestamptz,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        sent_at -> Nullable<Timestamptz>,
        gave_up_at -> Nullable<Timestamptz>,
        last_error -> Nullable<Text>,
    }
}

/// A mail the sender has claimed, with everything needed to send it.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = mail_outbox)]
pub struct Outgoing {
    pub id: Uuid,
    pub session_id: SessionId,
    pub to_address: String,
    pub to_name: Option<String>,
    pub subject: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub attempts: i32,
}

/// A mail and how its sending stands, without its text.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mail_outbox)]
pub struct Summary {
    pub id: Uuid,
    pub session_id: SessionId,
    pub kind: MailKind,
    pub to_address: String,
    pub subject: String,
    pub created_at: DateTime<Utc>,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub gave_up_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// What became of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    RetryAt(DateTime<Utc>, String),
    GaveUp(String),
}

/// Adds `mail` to the outbox, due at once.
pub fn insert(conn: &mut PgConnection, mail: &Mail) -> QueryResult<Summary> {
    diesel::insert_into(mail_outbox::table)
        .values((
            mail_outbox::id.eq(Uuid::now_v7()),
            mail_outbox::session_id.eq(mail.session),
            mail_outbox::kind.eq(mail.kind),
            mail_outbox::to_address.eq(mail.to.as_str()),
            mail_outbox::to_name.eq(mail.to_name.as_deref()),
            mail_outbox::subject.eq(&mail.subject),
            mail_outbox::body.eq(&mail.body),
        ))
        .returning(Summary::as_returning())
        .get_result(conn)
}

/// The newest mail first.
pub fn newest(conn: &mut PgConnection, limit: i64) -> QueryResult<Vec<Summary>> {
    mail_outbox::table
        .order((mail_outbox::created_at.desc(), mail_outbox::id.desc()))
        .limit(limit)
        .select(Summary::as_select())
        .load(conn)
}

/// Whether the session's transcript has been mailed (or is on its way).
pub fn transcript_requested(conn: &mut PgConnection, session: SessionId) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        mail_outbox::table
            .filter(mail_outbox::session_id.eq(session))
            .filter(mail_outbox::kind.eq(MailKind::Transcript)),
    ))
    .get_result(conn)
}

/// Whether a specialist or a bot wrote in the session (notes and system messages aside):
/// only then is there something of the service's own to mail.
pub fn someone_answered(conn: &mut PgConnection, session: SessionId) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        messages::table
            .filter(messages::session_id.eq(session))
            .filter(
                messages::sender_type.eq_any([ParticipantType::Specialist, ParticipantType::Bot]),
            )
            .filter(messages::kind.eq_any([MessageKind::Text, MessageKind::File])),
    ))
    .get_result(conn)
}

/// Claims up to `limit` due mails for `lease_secs`: they are not due again before then,
/// so another sender (after a change of leader) does not send them too, and a sender that
/// dies while sending leaves them due again once the lease runs out. `SKIP LOCKED` keeps
/// two claims at the same moment from taking the same rows.
pub fn claim_due(
    conn: &mut PgConnection,
    limit: i64,
    lease: std::time::Duration,
) -> QueryResult<Vec<Outgoing>> {
    let lease = diesel::pg::data_types::PgInterval::from_microseconds(
        i64::try_from(lease.as_micros()).unwrap_or(i64::MAX),
    );
    diesel::sql_query(
        "UPDATE mail_outbox SET next_attempt_at = now() + $2 \
         WHERE id IN ( \
             SELECT id FROM mail_outbox \
             WHERE sent_at IS NULL AND gave_up_at IS NULL AND next_attempt_at <= now() \
             ORDER BY next_attempt_at LIMIT $1 \
             FOR UPDATE SKIP LOCKED) \
         RETURNING id, session_id, to_address, to_name, subject, body, created_at, attempts",
    )
    .bind::<BigInt, _>(limit)
    .bind::<Interval, _>(lease)
    .load(conn)
}

/// Empties the text of mail settled (sent or given up) more than `age` ago: the
/// conversation it quoted stays in `messages`, and the outbox need not keep a second copy
/// of every transcript. The rows stay, for the listing and the one-transcript rule.
pub fn forget_settled_text(
    conn: &mut PgConnection,
    age: std::time::Duration,
) -> QueryResult<usize> {
    let age = diesel::pg::data_types::PgInterval::from_microseconds(
        i64::try_from(age.as_micros()).unwrap_or(i64::MAX),
    );
    diesel::sql_query(
        "UPDATE mail_outbox SET body = '' \
         WHERE body <> '' AND coalesce(sent_at, gave_up_at) < now() - $1",
    )
    .bind::<Interval, _>(age)
    .execute(conn)
}

/// Records an attempt at a claimed mail.
pub fn settle(conn: &mut PgConnection, id: Uuid, outcome: &Outcome) -> QueryResult<()> {
    let row = mail_outbox::table.find(id);
    let attempts = mail_outbox::attempts.eq(mail_outbox::attempts + 1);
    match outcome {
        Outcome::Sent => diesel::update(row)
            .set((
                attempts,
                mail_outbox::sent_at.eq(diesel::dsl::now),
                mail_outbox::last_error.eq(None::<String>),
            ))
            .execute(conn),
        Outcome::RetryAt(at, error) => diesel::update(row)
            .set((
                attempts,
                mail_outbox::next_attempt_at.eq(at),
                mail_outbox::last_error.eq(error),
            ))
            .execute(conn),
        Outcome::GaveUp(error) => diesel::update(row)
            .set((
                attempts,
                mail_outbox::gave_up_at.eq(diesel::dsl::now),
                mail_outbox::last_error.eq(error),
            ))
            .execute(conn),
    }
    .map(|_| ())
}
