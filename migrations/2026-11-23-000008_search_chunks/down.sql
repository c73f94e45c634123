DROP TABLE search_chunks;

CREATE TABLE search_messages (
    session_id uuid NOT NULL,
    seq        integer NOT NULL,
    document   tsvector NOT NULL,
    PRIMARY KEY (session_id, seq)
);
CREATE INDEX search_messages_document ON search_messages USING gin (document)
    WITH (gin_pending_list_limit = 256);
CREATE TABLE search_progress (
    session_id  uuid PRIMARY KEY,
    indexed_seq integer NOT NULL
);
