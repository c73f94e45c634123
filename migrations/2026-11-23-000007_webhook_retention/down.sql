DROP INDEX webhook_attempts_event;
DROP INDEX webhook_deliveries_event;
DROP INDEX webhook_outbox_created;
