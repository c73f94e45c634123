-- Seeds the search benchmark: :sessions ended conversations of :per_session messages
-- each (text with a note now and then), with visitors that have a name and an e-mail.
-- Message bodies are 4 to 14 words from bench_words (loaded by scripts/bench.sh), drawn
-- with a skew (random()^3) so that a few words are very common and most are rare, as in
-- real text. Search documents are not written here: the server's own indexer writes
-- them when it starts, as it would after a crash.
\set ON_ERROR_STOP on
SET synchronous_commit = off;

CREATE TEMP TABLE vocabulary AS SELECT array_agg(word ORDER BY ordinal) AS words FROM bench_words;

CREATE TEMP TABLE seed AS
SELECT i,
       gen_random_uuid() AS session_id,
       gen_random_uuid() AS visitor_id,
       now() - interval '1 hour' - i * interval '2 minutes' AS created_at
FROM generate_series(1, :sessions) AS i;

INSERT INTO visitors (id, name, email, created_at)
SELECT visitor_id,
       (ARRAY['Alex', 'Sam', 'Robin', 'Jamie', 'Kim', 'Lee', 'Noor', 'Ada'])[1 + i % 8]
         || ' ' || (ARRAY['Smith', 'Jones', 'Garcia', 'Okafor', 'Novak', 'Tanaka', 'Berg'])[1 + i % 7],
       'visitor' || i || '@example.com',
       created_at
FROM seed;

-- Oldest first, so that session numbers grow with time as they do in production.
INSERT INTO chat_sessions (id, visitor_id, status, created_at, queued_at, ended_at,
                           ended_by, last_seq)
SELECT session_id, visitor_id, 'ended', created_at, created_at,
       created_at + interval '20 minutes', 'visitor', :per_session
FROM seed ORDER BY created_at;

INSERT INTO messages (id, session_id, seq, sender_type, sender_id, kind, body, created_at)
SELECT gen_random_uuid(), s.session_id, m.seq,
       CASE WHEN m.seq % 2 = 1 THEN 'visitor' ELSE 'specialist' END,
       CASE WHEN m.seq % 2 = 1 THEN s.visitor_id END,
       CASE WHEN m.seq % 10 = 0 THEN 'note' ELSE 'text' END,
       (SELECT string_agg(v.words[1 + floor(random() ^ 3 * array_length(v.words, 1))::int], ' ')
        FROM vocabulary v, generate_series(1, 4 + (s.i + m.seq * 7) % 11)),
       s.created_at + m.seq * interval '20 seconds'
FROM seed s CROSS JOIN generate_series(1, :per_session) AS m(seq);

ANALYZE visitors;
ANALYZE chat_sessions;
ANALYZE messages;
