-- Work that runs on one node of the cluster at a time (SPEC section 13): the
-- dispatcher. A role is held while its node's lease runs, so renewing the node renews
-- its roles, and a dead or stopped node's roles are free to take.
CREATE TABLE cluster_roles (
    role    text PRIMARY KEY,
    node_id text NOT NULL,
    epoch   bigint NOT NULL DEFAULT 1
);
