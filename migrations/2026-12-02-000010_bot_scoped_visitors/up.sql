-- A visitor's external_id is the id a bot's own system (a CRM, a shop) gave them, so it
-- means something only to that bot: two bots may each know a different "crm-42". Keyed
-- by (bot, external_id), a bot that hands off another bot's id gets a visitor of its
-- own, never a token for the other bot's visitor and their conversations (SPEC 12).
ALTER TABLE visitors ADD COLUMN bot_id uuid REFERENCES bots (id);

-- Existing visitors known by an external_id belong to the bot that created their
-- earliest session, so that bot keeps finding them. One with no bot session keeps a
-- NULL bot_id: no bot can match it any more, which is safe.
UPDATE visitors
SET bot_id = earliest.created_by_bot_id
FROM (
    SELECT DISTINCT ON (visitor_id) visitor_id, created_by_bot_id
    FROM chat_sessions
    WHERE created_by_bot_id IS NOT NULL
    ORDER BY visitor_id, created_at, number
) AS earliest
WHERE visitors.id = earliest.visitor_id
  AND visitors.external_id IS NOT NULL;

-- external_id was unique on its own, so every (bot_id, external_id) pair is too. NULLs
-- are distinct: anonymous visitors and unmatched old ones never collide.
ALTER TABLE visitors DROP CONSTRAINT visitors_external_id_key;
CREATE UNIQUE INDEX visitors_bot_external_id ON visitors (bot_id, external_id);
