DROP INDEX chat_sessions_ended;
DROP INDEX visitors_search;
DROP TABLE search_progress;
DROP TABLE search_messages;
