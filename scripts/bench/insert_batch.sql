-- The raw database ceiling for scripts/bench.sh: one transaction inserts a batch of 500
-- message rows into one session, as Persistence does. Each pgbench client writes its own
-- session; seq comes from a sequence so batches never collide.
INSERT INTO messages (id, session_id, seq, sender_type, sender_id, kind, body, client_msg_id, created_at)
SELECT gen_random_uuid(), s.id, nextval('bench_seq'), 'visitor', s.visitor_id, 'text',
       't1234567890123 hello, I have a question about my order and its delivery',
       gen_random_uuid()::text, now()
FROM generate_series(1, 500),
     (SELECT id, visitor_id FROM bench_sessions WHERE client = :client_id) s;
