-- What `/config pulse` showed of a server's final weeks, so every later pulse shows the same:
-- a week once shown never changes (a member deleting their data, a feature's retention or a
-- late check-in would otherwise tell about them by what changed). One row per week and figure
-- or spread: a count shown (about no one or at least 5 members), or why it was hidden; a spread's shown groups as
-- "first-last:count" joined by commas (NULL: not shown). Never a member id. Hangs off
-- guilds(guild_id) ON DELETE CASCADE; rows older than any pulse can show are deleted.
CREATE TABLE pulse_shown (
    guild_id    INTEGER NOT NULL REFERENCES guilds (guild_id) ON DELETE CASCADE,
    week_start  TEXT NOT NULL,
    figure      TEXT NOT NULL CHECK (length(figure) BETWEEN 1 AND 64),
    value       INTEGER CHECK (value IS NULL OR value >= 0),
    hidden      TEXT CHECK (hidden IS NULL OR hidden IN ('few', 'change', 'not_kept', 'not_final')),
    groups_shown TEXT,
    PRIMARY KEY (guild_id, week_start, figure)
) STRICT;
