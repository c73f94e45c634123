-- Scheduled messages (SPEC section 10): a specialist's message stored now and sent at
-- `send_at` by the scheduler through the session's actor, like any other message.
CREATE TABLE scheduled_messages (
    id            uuid PRIMARY KEY,
    session_id    uuid NOT NULL REFERENCES chat_sessions (id),
    specialist_id uuid NOT NULL REFERENCES specialists (id),
    body          text NOT NULL,
    attachment_id uuid REFERENCES attachments (id),
    -- The client's id of the scheduling request: a resent request finds its row.
    client_msg_id text NOT NULL,
    send_at       timestamptz NOT NULL,
    state         text NOT NULL DEFAULT 'pending'
                  CHECK (state IN ('pending', 'sent', 'cancelled')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    sent_at       timestamptz,
    cancelled_at  timestamptz,
    -- The `seq` of the message it became, once sent.
    message_seq   integer,
    UNIQUE (session_id, specialist_id, client_msg_id)
);
-- The scheduler loads what is still pending, earliest first.
CREATE INDEX scheduled_messages_pending ON scheduled_messages (send_at) WHERE state = 'pending';
CREATE INDEX scheduled_messages_session ON scheduled_messages (session_id, send_at);
