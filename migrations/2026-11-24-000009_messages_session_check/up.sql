-- Every message insert already updates its session's last_seq in the same transaction,
-- and checks that each session was there to update (src/db/messages.rs), so the row
-- trigger of the foreign key only repeated that lookup, once per message: about a
-- seventh of what Postgres spends on a chat message (BENCHMARKS.md). Sessions are never
-- deleted, so the insert was the only moment the key guarded.
ALTER TABLE messages DROP CONSTRAINT messages_session_id_fkey;
