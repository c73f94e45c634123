ALTER TABLE scheduled_messages
    DROP CONSTRAINT scheduled_messages_attachment_id_fkey,
    ADD CONSTRAINT scheduled_messages_attachment_id_fkey
        FOREIGN KEY (attachment_id) REFERENCES attachments (id);
