-- The whole data model of SPEC section 2. Enumerations are text with CHECK constraints so
-- that they read naturally in psql and in ad-hoc reports; the Rust side maps them to enums.

CREATE TABLE visitors (
    id          uuid PRIMARY KEY,
    external_id text UNIQUE,
    name        text,
    email       text,
    phone       text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE specialists (
    id                   uuid PRIMARY KEY,
    email                text NOT NULL UNIQUE,
    name                 text NOT NULL,
    password_hash        text NOT NULL,
    role                 text NOT NULL DEFAULT 'specialist' CHECK (role IN ('specialist', 'admin')),
    skills               text[] NOT NULL DEFAULT '{}',
    languages            text[] NOT NULL DEFAULT '{en}',
    max_concurrent_chats integer NOT NULL DEFAULT 3 CHECK (max_concurrent_chats BETWEEN 1 AND 100),
    created_at           timestamptz NOT NULL DEFAULT now(),
    last_seen_at         timestamptz,
    disabled_at          timestamptz
);

CREATE TABLE bots (
    id         uuid PRIMARY KEY,
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);

CREATE SEQUENCE chat_session_numbers;

CREATE TABLE chat_sessions (
    id                uuid PRIMARY KEY,
    number            bigint NOT NULL UNIQUE DEFAULT nextval('chat_session_numbers'),
    visitor_id        uuid NOT NULL REFERENCES visitors (id),
    specialist_id     uuid REFERENCES specialists (id),
    created_by_bot_id uuid REFERENCES bots (id),
    idempotency_key   text,
    status            text NOT NULL DEFAULT 'waiting'
                      CHECK (status IN ('waiting', 'active', 'ended', 'abandoned')),
    priority          text NOT NULL DEFAULT 'medium'
                      CHECK (priority IN ('low', 'medium', 'high', 'urgent')),
    intent            text,
    language          text,
    skills            text[] NOT NULL DEFAULT '{}',
    page_url          text,
    user_agent        text,
    metadata          jsonb NOT NULL DEFAULT '{}',
    created_at        timestamptz NOT NULL DEFAULT now(),
    queued_at         timestamptz NOT NULL DEFAULT now(),
    assigned_at       timestamptz,
    first_response_at timestamptz,
    ended_at          timestamptz,
    ended_by          text CHECK (ended_by IN ('visitor', 'specialist', 'bot', 'system')),
    ended_by_id       uuid,
    end_reason        text,
    last_seq          integer NOT NULL DEFAULT 0,
    rating            smallint CHECK (rating BETWEEN 1 AND 5),
    feedback          text,
    rated_at          timestamptz,
    UNIQUE (created_by_bot_id, idempotency_key)
);
ALTER SEQUENCE chat_session_numbers OWNED BY chat_sessions.number;

CREATE INDEX chat_sessions_status_queued ON chat_sessions (status, queued_at);
CREATE INDEX chat_sessions_specialist_status ON chat_sessions (specialist_id, status);
CREATE INDEX chat_sessions_visitor ON chat_sessions (visitor_id);
-- A visitor has at most one open conversation: two tabs starting a chat at once get the
-- same one, enforced where no race can slip through.
CREATE UNIQUE INDEX chat_sessions_one_open_per_visitor ON chat_sessions (visitor_id)
    WHERE status IN ('waiting', 'active');
CREATE INDEX chat_sessions_bot_created ON chat_sessions (created_by_bot_id, created_at);

CREATE TABLE attachments (
    id           uuid PRIMARY KEY,
    session_id   uuid NOT NULL REFERENCES chat_sessions (id),
    uploaded_by  uuid NOT NULL,
    file_name    text NOT NULL,
    content_type text NOT NULL,
    size_bytes   bigint NOT NULL,
    sha256       text NOT NULL,
    storage_key  text NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX attachments_session ON attachments (session_id);

CREATE TABLE messages (
    id            uuid PRIMARY KEY,
    session_id    uuid NOT NULL REFERENCES chat_sessions (id),
    seq           integer NOT NULL CHECK (seq >= 1),
    sender_type   text NOT NULL CHECK (sender_type IN ('visitor', 'specialist', 'bot', 'system')),
    sender_id     uuid,
    kind          text NOT NULL CHECK (kind IN ('text', 'file', 'system', 'note')),
    body          text NOT NULL,
    attachment_id uuid REFERENCES attachments (id),
    client_msg_id text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (session_id, seq),
    UNIQUE (session_id, sender_id, client_msg_id)
);

CREATE TABLE read_cursors (
    session_id  uuid NOT NULL REFERENCES chat_sessions (id),
    reader_type text NOT NULL CHECK (reader_type IN ('visitor', 'specialist', 'bot')),
    reader_id   uuid NOT NULL,
    seq         integer NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, reader_type, reader_id)
);

CREATE TABLE session_events (
    id          bigserial PRIMARY KEY,
    session_id  uuid NOT NULL REFERENCES chat_sessions (id),
    event       text NOT NULL CHECK (event IN ('queued', 'offered', 'offer_declined', 'offer_expired',
                                               'assigned', 'transferred', 'ended', 'abandoned', 'rated')),
    actor_type  text CHECK (actor_type IN ('visitor', 'specialist', 'bot', 'system')),
    actor_id    uuid,
    data        jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX session_events_session ON session_events (session_id, id);
