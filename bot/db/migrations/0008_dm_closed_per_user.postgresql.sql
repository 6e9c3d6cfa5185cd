-- PostgreSQL twin of 0008_dm_closed_per_user.sql: the same data repair, word for word.
UPDATE members SET dm_closed_at = NULL
WHERE dm_closed_at IS NOT NULL
  AND EXISTS (SELECT 1 FROM members o WHERE o.user_id = members.user_id AND o.last_active_at > members.dm_closed_at);

UPDATE members SET dm_closed_at = (SELECT max(o.dm_closed_at) FROM members o WHERE o.user_id = members.user_id)
WHERE EXISTS (SELECT 1 FROM members o WHERE o.user_id = members.user_id AND o.dm_closed_at IS NOT NULL);
