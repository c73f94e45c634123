//! Who serves what when several nodes share the database (SPEC section 13): each node's
//! lease on itself, and each session's owner with its epoch. Postgres is the judge: a
//! claim is one `UPDATE` that only a free, own or dead owner's row lets through, and the
//! epoch it raises is the fencing token every later write for that session must show.

use std::time::Duration;

use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Nullable, Text, Uuid as SqlUuid};

use crate::domain::SessionId;
use crate::error::{Error, Result};

/// Registers a starting node, or takes over a row it left behind (a restart under the
/// same name): its lease runs from now.
pub fn register(conn: &mut PgConnection, node: &str, lease: Duration) -> Result<()> {
    diesel::sql_query(
        "INSERT INTO cluster_nodes (node_id, lease_until) \
         VALUES ($1, now() + $2 * interval '1 second') \
         ON CONFLICT (node_id) DO UPDATE \
         SET lease_until = EXCLUDED.lease_until, started_at = now()",
    )
    .bind::<Text, _>(node)
    .bind::<Double, _>(lease.as_secs_f64())
    .execute(conn)?;
    Ok(())
}

/// Extends the node's lease; `false` when it had already run out (the node was paused
/// or cut off): what it owned may be someone else's now.
pub fn renew(conn: &mut PgConnection, node: &str, lease: Duration) -> Result<bool> {
    let renewed = diesel::sql_query(
        "UPDATE cluster_nodes SET lease_until = now() + $2 * interval '1 second' \
         WHERE node_id = $1 AND lease_until > now()",
    )
    .bind::<Text, _>(node)
    .bind::<Double, _>(lease.as_secs_f64())
    .execute(conn)?;
    Ok(renewed == 1)
}

/// Ends the node's lease now (a clean stop): its sessions can be claimed at once
/// instead of after the lease.
pub fn release(conn: &mut PgConnection, node: &str) -> Result<()> {
    diesel::sql_query("UPDATE cluster_nodes SET lease_until = now() WHERE node_id = $1")
        .bind::<Text, _>(node)
        .execute(conn)?;
    Ok(())
}

/// Who serves a session now.
#[derive(Debug, Clone, PartialEq)]
pub enum Owner {
    /// There is no such session.
    Missing,
    /// Nobody, or a node whose lease has run out: the session can be claimed.
    Free,
    /// A live node, with the seconds its lease still runs.
    Node { node: String, lease_left: f64 },
}

#[derive(QueryableByName)]
struct OwnerRow {
    #[diesel(sql_type = Nullable<Text>)]
    owner: Option<String>,
    #[diesel(sql_type = Nullable<Double>)]
    lease_left: Option<f64>,
}

pub fn owner(conn: &mut PgConnection, id: SessionId) -> Result<Owner> {
    let row = diesel::sql_query(
        "SELECT s.owner_node AS owner, \
                extract(epoch FROM n.lease_until - now())::float8 AS lease_left \
         FROM chat_sessions s LEFT JOIN cluster_nodes n ON n.node_id = s.owner_node \
         WHERE s.id = $1",
    )
    .bind::<SqlUuid, _>(id.0)
    .get_result::<OwnerRow>(conn)
    .optional()?;
    Ok(match row {
        None => Owner::Missing,
        Some(OwnerRow {
            owner: Some(node),
            lease_left: Some(left),
        }) if left > 0.0 => Owner::Node {
            node,
            lease_left: left,
        },
        Some(_) => Owner::Free,
    })
}

#[derive(QueryableByName)]
struct Epoch {
    #[diesel(sql_type = BigInt)]
    epoch: i64,
}

/// Makes `node` the session's owner with a new epoch, when the session is free or
/// already `node`'s; `None` while another live node owns it, or when there is no such
/// session. Waits for a commit in flight for the session (it holds the row), so what
/// the new owner reads next includes it.
pub fn claim_session(conn: &mut PgConnection, id: SessionId, node: &str) -> Result<Option<i64>> {
    let claimed = diesel::sql_query(
        "UPDATE chat_sessions s SET owner_node = $2, owner_epoch = owner_epoch + 1 \
         WHERE id = $1 AND (s.owner_node IS NULL OR s.owner_node = $2 OR NOT EXISTS \
             (SELECT 1 FROM cluster_nodes n \
              WHERE n.node_id = s.owner_node AND n.lease_until > now())) \
         RETURNING owner_epoch AS epoch",
    )
    .bind::<SqlUuid, _>(id.0)
    .bind::<Text, _>(node)
    .get_result::<Epoch>(conn)
    .optional()?;
    Ok(claimed.map(|row| row.epoch))
}

/// Fails unless `epoch` is still the session's: its writer has not been replaced. Holds
/// the row until the transaction ends, so no claim slips in before the commit.
pub fn fence(conn: &mut PgConnection, id: SessionId, epoch: i64) -> Result<()> {
    let held = diesel::sql_query(
        "SELECT owner_epoch AS epoch FROM chat_sessions \
         WHERE id = $1 AND owner_epoch = $2 FOR SHARE",
    )
    .bind::<SqlUuid, _>(id.0)
    .bind::<BigInt, _>(epoch)
    .get_result::<Epoch>(conn)
    .optional()?;
    held.map(|_| ()).ok_or_else(Error::moved)
}

#[derive(QueryableByName)]
struct Holder {
    #[diesel(sql_type = Text)]
    node_id: String,
}

/// Takes `role` for `node` when nobody holds it or its holder's lease has run out, and
/// says whether `node` holds it now. A role lives as long as its node's lease, so the
/// node's renewal renews it too.
pub fn take_role(conn: &mut PgConnection, role: &str, node: &str) -> Result<bool> {
    let holder = diesel::sql_query(
        "INSERT INTO cluster_roles AS r (role, node_id) VALUES ($1, $2) \
         ON CONFLICT (role) DO UPDATE SET node_id = EXCLUDED.node_id, epoch = r.epoch + 1 \
         WHERE r.node_id <> EXCLUDED.node_id AND NOT EXISTS \
             (SELECT 1 FROM cluster_nodes n \
              WHERE n.node_id = r.node_id AND n.lease_until > now()) \
         RETURNING node_id",
    )
    .bind::<Text, _>(role)
    .bind::<Text, _>(node)
    .get_result::<Holder>(conn)
    .optional()?;
    if holder.is_some() {
        return Ok(true);
    }
    let holder = diesel::sql_query("SELECT node_id FROM cluster_roles WHERE role = $1")
        .bind::<Text, _>(role)
        .get_result::<Holder>(conn)?;
    Ok(holder.node_id == node)
}

/// The nodes whose lease runs now.
pub fn live_nodes(conn: &mut PgConnection) -> Result<Vec<String>> {
    let rows = diesel::sql_query("SELECT node_id FROM cluster_nodes WHERE lease_until > now()")
        .load::<Holder>(conn)?;
    Ok(rows.into_iter().map(|row| row.node_id).collect())
}
