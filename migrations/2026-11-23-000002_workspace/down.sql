DROP TABLE session_tags;
DROP TABLE session_specialists;
DROP INDEX chat_sessions_created;
ALTER TABLE chat_sessions DROP COLUMN archived_at;
