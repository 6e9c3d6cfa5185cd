-- PostgreSQL twin of 0017_pulse_shown.sql (see 0001_initial.postgresql.sql for the types).
CREATE TABLE pulse_shown (
    guild_id    BIGINT NOT NULL REFERENCES guilds (guild_id) ON DELETE CASCADE,
    week_start  TEXT COLLATE "C" NOT NULL,
    figure      TEXT COLLATE "C" NOT NULL CHECK (length(figure) BETWEEN 1 AND 64),
    value       INTEGER CHECK (value IS NULL OR value >= 0),
    hidden      TEXT COLLATE "C" CHECK (hidden IS NULL OR hidden IN ('few', 'change', 'not_kept', 'not_final')),
    groups_shown TEXT COLLATE "C",
    PRIMARY KEY (guild_id, week_start, figure)
);
