DROP TABLE session_events;
DROP TABLE read_cursors;
DROP TABLE messages;
DROP TABLE attachments;
DROP TABLE chat_sessions;
DROP TABLE bots;
DROP TABLE specialists;
DROP TABLE visitors;
