DELETE FROM session_events WHERE event IN ('left_message', 'returned');
ALTER TABLE session_events DROP CONSTRAINT session_events_event_check;
ALTER TABLE session_events ADD CONSTRAINT session_events_event_check
    CHECK (event IN ('queued', 'offered', 'offer_declined', 'offer_expired', 'assigned',
                     'transferred', 'ended', 'abandoned', 'rated'));
DROP INDEX chat_sessions_offline;
ALTER TABLE chat_sessions DROP COLUMN callback_requested;
ALTER TABLE chat_sessions DROP COLUMN left_message_at;
UPDATE chat_sessions SET status = 'ended', ended_at = coalesce(ended_at, now())
    WHERE status = 'offline';
DROP INDEX chat_sessions_one_open_per_visitor;
CREATE UNIQUE INDEX chat_sessions_one_open_per_visitor ON chat_sessions (visitor_id)
    WHERE status IN ('waiting', 'active');
ALTER TABLE chat_sessions DROP CONSTRAINT chat_sessions_status_check;
ALTER TABLE chat_sessions ADD CONSTRAINT chat_sessions_status_check
    CHECK (status IN ('waiting', 'active', 'ended', 'abandoned'));
