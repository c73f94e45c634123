-- Search documents per stretch of a conversation instead of per message: the indexer
-- writes one row for all the messages of a session it indexes in one sweep, which costs
-- Postgres a fraction of a row and its index entries per message (SPEC section 10: chat
-- throughput within 10 % of what it is without search). The server computes the
-- documents (src/search/text.rs). The old tables are derived data: the first sweep
-- after this migration indexes every message again.
DROP TABLE search_progress;
DROP TABLE search_messages;

-- Messages first_seq..last_seq of a session. `document` joins their words (a gap
-- between messages that no phrase spans) and is what the GIN index finds; `documents`
-- holds each message's own, in seq order, as tsvector text one per line, read only to
-- pick the matches a search shows (cheaper to write than an array of tsvectors).
-- The newest chunk's last_seq is how far the session is indexed. No foreign key, for
-- the same reason as before: checking it would lock the session row the chat path
-- keeps updating.
CREATE TABLE search_chunks (
    session_id uuid NOT NULL,
    first_seq  integer NOT NULL,
    last_seq   integer NOT NULL,
    document   tsvector NOT NULL,
    documents  text NOT NULL,
    PRIMARY KEY (session_id, last_seq)
);
-- Every search reads the GIN pending list from end to end; a small one keeps that cheap.
CREATE INDEX search_chunks_document ON search_chunks USING gin (document)
    WITH (gin_pending_list_limit = 256);
