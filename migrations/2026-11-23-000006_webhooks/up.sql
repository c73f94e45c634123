-- Webhooks (SPEC section 10): subscriptions, a transactional outbox of events, the
-- per-webhook delivery state of each event, and the history of every attempt.

CREATE TABLE webhooks (
    id uuid PRIMARY KEY,
    url text NOT NULL,
    events text[] NOT NULL,
    secret text NOT NULL,
    created_by uuid REFERENCES specialists (id),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Written in the same transaction as the change each row reports.
CREATE TABLE webhook_outbox (
    id uuid PRIMARY KEY,
    event text NOT NULL,
    data jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    fanned_out_at timestamptz
);
CREATE INDEX webhook_outbox_pending ON webhook_outbox (created_at) WHERE fanned_out_at IS NULL;

-- One row per (webhook, event): each webhook retries on its own schedule.
CREATE TABLE webhook_deliveries (
    webhook_id uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id uuid NOT NULL REFERENCES webhook_outbox (id) ON DELETE CASCADE,
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    delivered_at timestamptz,
    gave_up_at timestamptz,
    PRIMARY KEY (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE delivered_at IS NULL AND gave_up_at IS NULL;

CREATE TABLE webhook_attempts (
    id bigserial PRIMARY KEY,
    webhook_id uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id uuid NOT NULL REFERENCES webhook_outbox (id) ON DELETE CASCADE,
    event text NOT NULL,
    attempt integer NOT NULL,
    status_code integer,
    error text,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_attempts_newest ON webhook_attempts (webhook_id, at DESC, id DESC);
