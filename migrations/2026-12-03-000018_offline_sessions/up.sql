-- Messages left while nobody could answer (SPEC section 14): an `offline` session is open
-- like a waiting or active one, so a visitor still has at most one open conversation.
ALTER TABLE chat_sessions DROP CONSTRAINT chat_sessions_status_check;
ALTER TABLE chat_sessions ADD CONSTRAINT chat_sessions_status_check
    CHECK (status IN ('waiting', 'active', 'ended', 'abandoned', 'offline'));
DROP INDEX chat_sessions_one_open_per_visitor;
CREATE UNIQUE INDEX chat_sessions_one_open_per_visitor ON chat_sessions (visitor_id)
    WHERE status IN ('waiting', 'active', 'offline');
-- The visitor asked to be called back (the phone number is on the visitor).
ALTER TABLE chat_sessions ADD COLUMN callback_requested boolean NOT NULL DEFAULT false;
-- When the visitor left a message: such a session was answered by mail, and its time
-- to a reply is not a queue wait.
ALTER TABLE chat_sessions ADD COLUMN left_message_at timestamptz;
-- "Needs reply": the offline sessions, oldest first.
CREATE INDEX chat_sessions_offline ON chat_sessions (created_at) WHERE status = 'offline';

ALTER TABLE session_events DROP CONSTRAINT session_events_event_check;
ALTER TABLE session_events ADD CONSTRAINT session_events_event_check
    CHECK (event IN ('queued', 'offered', 'offer_declined', 'offer_expired', 'assigned',
                     'transferred', 'ended', 'abandoned', 'rated', 'left_message', 'returned'));
