-- The one-time links that create the first admin (SPEC section 11): a server that starts
-- on a database without an admin logs one. Only the token's SHA-256 is kept, so reading
-- the table does not give the link away; every link dies once an admin exists.
CREATE TABLE setup_links (
    token_sha256 bytea PRIMARY KEY,
    created_at   timestamptz NOT NULL DEFAULT now()
);
