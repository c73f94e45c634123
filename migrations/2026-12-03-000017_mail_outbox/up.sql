-- Mail to visitors (SPEC section 14): written in the same transaction as the change that
-- causes it, sent afterwards by the sender of the node that leads the cluster, retried
-- with backoff until a day has passed.
CREATE TABLE mail_outbox (
    id uuid PRIMARY KEY,
    session_id uuid NOT NULL REFERENCES chat_sessions (id),
    kind text NOT NULL CHECK (kind IN ('reply', 'transcript')),
    to_address text NOT NULL,
    to_name text,
    subject text NOT NULL,
    body text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz,
    gave_up_at timestamptz,
    last_error text
);

-- What the sender claims each second: only the rows still to send.
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at)
    WHERE sent_at IS NULL AND gave_up_at IS NULL;

-- The admin listing, newest first.
CREATE INDEX mail_outbox_newest ON mail_outbox (created_at DESC, id DESC);

-- A visitor can have a conversation's transcript mailed once: the server cannot be made
-- to send the same text again and again.
CREATE UNIQUE INDEX mail_outbox_one_transcript ON mail_outbox (session_id)
    WHERE kind = 'transcript';
