-- Canned responses (SPEC section 10): a specialist's own snippets, and shared ones
-- (owner_id null) that only admins manage.
CREATE TABLE canned_responses (
    id         uuid PRIMARY KEY,
    owner_id   uuid REFERENCES specialists (id),
    shortcut   text NOT NULL CHECK (shortcut ~ '^[a-z0-9_-]{1,32}$'),
    title      text NOT NULL,
    body       text NOT NULL CHECK (char_length(body) BETWEEN 1 AND 4000),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
-- A shortcut is unique per owner, and the shared ones count as one owner: a plain
-- unique (owner_id, shortcut) would let NULL owners repeat a shortcut.
CREATE UNIQUE INDEX canned_responses_owner_shortcut ON canned_responses
    (coalesce(owner_id, '00000000-0000-0000-0000-000000000000'::uuid), shortcut);
