-- Back to one namespace for every bot. This fails (and the rollback with it) once two
-- bots have handed off the same external_id: which of the two visitors keeps it is not
-- something a migration can decide.
DROP INDEX visitors_bot_external_id;
ALTER TABLE visitors ADD CONSTRAINT visitors_external_id_key UNIQUE (external_id);
ALTER TABLE visitors DROP COLUMN bot_id;
