-- Full-text search over conversations (SPEC section 10). The documents are derived data
-- written by the background indexer (src/search.rs) after the messages are committed:
-- nothing here runs inside the transaction that acknowledges a message.

-- One document per message (notes included: search is for staff only). No foreign keys:
-- checking one would lock the session row the chat path keeps updating, and sessions and
-- messages are never deleted.
CREATE TABLE search_messages (
    session_id uuid NOT NULL,
    seq        integer NOT NULL,
    document   tsvector NOT NULL,
    PRIMARY KEY (session_id, seq)
);
-- Every search reads the GIN pending list (new entries not yet merged) from end to end;
-- a small list keeps that cheap, and the indexer's inserts merge it in bulk when full.
CREATE INDEX search_messages_document ON search_messages USING gin (document)
    WITH (gin_pending_list_limit = 256);

-- How far each session is indexed: every message with seq <= indexed_seq has its
-- document. A session needs indexing while chat_sessions.last_seq is greater.
CREATE TABLE search_progress (
    session_id  uuid PRIMARY KEY,
    indexed_seq integer NOT NULL
);

-- Visitors are searched by name and e-mail straight from their row (they are written
-- rarely and never on the ack path). The expression must match db/search.rs exactly.
-- No pending list: sign-ups are rare next to searches, which would otherwise read it.
CREATE INDEX visitors_search ON visitors
    USING gin (to_tsvector('english', coalesce(name, '') || ' ' || coalesce(email, '')))
    WITH (fastupdate = off);

-- The indexer's periodic sweep looks at open sessions and those ended since its last
-- sweep (a message can be committed together with the end).
CREATE INDEX chat_sessions_ended ON chat_sessions (ended_at) WHERE ended_at IS NOT NULL;
