-- The closed-DM mark (`members.dm_closed_at`) belongs to the user: every server row of a
-- user carries the same mark. Until now a refusal marked every row, but using the bot
-- lifted the mark only in that server's row, so the rows could disagree (and any marked
-- row held back every DM). Bring stored marks in line: a user who used the bot anywhere
-- after a row's refusal has that mark lifted, then every row takes the user's newest mark.
UPDATE members SET dm_closed_at = NULL
WHERE dm_closed_at IS NOT NULL
  AND EXISTS (SELECT 1 FROM members o WHERE o.user_id = members.user_id AND o.last_active_at > members.dm_closed_at);

UPDATE members SET dm_closed_at = (SELECT max(o.dm_closed_at) FROM members o WHERE o.user_id = members.user_id)
WHERE EXISTS (SELECT 1 FROM members o WHERE o.user_id = members.user_id AND o.dm_closed_at IS NOT NULL);
