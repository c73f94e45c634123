-- Whether an attachment is already in a message is asked before every file message and
-- by the sweep of unsent uploads; without an index each ask scans every message.
CREATE INDEX messages_attachment_id ON messages (attachment_id) WHERE attachment_id IS NOT NULL;
