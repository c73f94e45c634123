-- The shared ground of the specialist workspace (SPEC section 10): archiving, tags, and
-- who may look back at a conversation.

ALTER TABLE chat_sessions ADD COLUMN archived_at timestamptz;
-- Conversation lists are newest first and paged by (created_at, id).
CREATE INDEX chat_sessions_created ON chat_sessions (created_at DESC, id DESC);

-- Every specialist a session was ever assigned to: a specialist keeps seeing the
-- conversations they took part in after a transfer or the end.
CREATE TABLE session_specialists (
    specialist_id uuid NOT NULL REFERENCES specialists (id),
    session_id    uuid NOT NULL REFERENCES chat_sessions (id),
    assigned_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (specialist_id, session_id)
);
CREATE INDEX session_specialists_session ON session_specialists (session_id);
INSERT INTO session_specialists (specialist_id, session_id, assigned_at)
SELECT e.actor_id, e.session_id, min(e.created_at)
FROM session_events e JOIN specialists s ON s.id = e.actor_id
WHERE e.event = 'assigned'
GROUP BY e.actor_id, e.session_id;

CREATE TABLE session_tags (
    session_id uuid NOT NULL REFERENCES chat_sessions (id),
    tag        text NOT NULL CHECK (tag ~ '^[a-z0-9_-]{1,32}$'),
    PRIMARY KEY (session_id, tag)
);
CREATE INDEX session_tags_tag ON session_tags (tag, session_id);
