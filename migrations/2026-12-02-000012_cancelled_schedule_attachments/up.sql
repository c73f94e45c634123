-- An upload attached to a scheduled message that was cancelled is never sent: the sweep
-- of unsent uploads deletes it like any other, and the cancelled row forgets it.
ALTER TABLE scheduled_messages
    DROP CONSTRAINT scheduled_messages_attachment_id_fkey,
    ADD CONSTRAINT scheduled_messages_attachment_id_fkey
        FOREIGN KEY (attachment_id) REFERENCES attachments (id) ON DELETE SET NULL;
