-- Several nodes (SPEC section 13). Postgres is the one judge of who serves what.
--
-- A node holds a lease on itself, renewed every third of SWITCHBOARD_LEASE_SECS; what
-- it owns is owned while that lease runs.
CREATE TABLE cluster_nodes (
    node_id     text PRIMARY KEY,
    lease_until timestamptz NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now()
);

-- A session's owner runs its one writer. owner_epoch is the fencing token: claiming
-- the session raises it, and every commit for the session requires the epoch its
-- writer claimed, so a node that lost the session (paused, cut off) commits nothing.
-- A single node never claims: its sessions stay at epoch 0 and the check always holds.
ALTER TABLE chat_sessions
    ADD COLUMN owner_node  text,
    ADD COLUMN owner_epoch bigint NOT NULL DEFAULT 0;
