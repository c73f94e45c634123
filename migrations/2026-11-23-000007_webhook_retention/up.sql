-- Settled webhook events are deleted a week after they happened, oldest first; their
-- deliveries and attempts go with them through ON DELETE CASCADE, which looks them up
-- by event.
CREATE INDEX webhook_outbox_created ON webhook_outbox (created_at);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);
CREATE INDEX webhook_attempts_event ON webhook_attempts (event_id);
