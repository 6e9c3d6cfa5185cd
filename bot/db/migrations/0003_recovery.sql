-- Recovery counters, their periods (a slip ends one and starts the next), the milestones
-- celebrated, and each server's milestone ladder.
-- Local dates are 'YYYY-MM-DD' text in the member's zone; instants are UTC ISO-8601 text.

CREATE TABLE recovery_counters (
    counter_id           INTEGER PRIMARY KEY,
    member_id            INTEGER NOT NULL REFERENCES members (member_id) ON DELETE CASCADE,
    guild_id             INTEGER NOT NULL REFERENCES guilds (guild_id) ON DELETE CASCADE,
    name                 TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 40),
    -- casefolded name: one "Alcohol" per member, whatever the capitals
    name_key             TEXT NOT NULL,
    visibility           TEXT NOT NULL DEFAULT 'private'
                         CHECK (visibility IN ('private', 'buddies', 'server')),
    celebrate            TEXT NOT NULL DEFAULT 'dm' CHECK (celebrate IN ('channel', 'dm', 'off')),
    -- The next milestone of the current period and the UTC instant of its local
    -- celebration hour; the sweep looks only at rows whose instant has passed.
    next_milestone_days  INTEGER CHECK (next_milestone_days IS NULL OR next_milestone_days > 0),
    next_celebration_at  TEXT,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL,
    UNIQUE (member_id, name_key),
    CHECK ((next_milestone_days IS NULL) = (next_celebration_at IS NULL))
) STRICT;

CREATE INDEX recovery_counters_due ON recovery_counters (next_celebration_at)
    WHERE next_celebration_at IS NOT NULL;
CREATE INDEX recovery_counters_guild ON recovery_counters (guild_id);

CREATE TABLE recovery_periods (
    period_id   INTEGER PRIMARY KEY,
    counter_id  INTEGER NOT NULL REFERENCES recovery_counters (counter_id) ON DELETE CASCADE,
    member_id   INTEGER NOT NULL REFERENCES members (member_id) ON DELETE CASCADE,
    start_date  TEXT NOT NULL CHECK (start_date GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]'),
    -- the slip that ended this period; NULL while it is the current one
    end_date    TEXT CHECK (end_date IS NULL OR end_date GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]'),
    created_at  TEXT NOT NULL,
    CHECK (end_date IS NULL OR end_date >= start_date)
) STRICT;

-- Exactly one current period per counter.
CREATE UNIQUE INDEX recovery_periods_current ON recovery_periods (counter_id) WHERE end_date IS NULL;
CREATE INDEX recovery_periods_counter ON recovery_periods (counter_id, start_date);
CREATE INDEX recovery_periods_member ON recovery_periods (member_id);

-- One row per milestone handled, in the same transaction that queues its message;
-- the unique key makes a second celebration of a milestone in a period impossible.
-- A slip starts a new period, whose milestones are celebrated afresh.
CREATE TABLE recovery_celebrations (
    celebration_id  INTEGER PRIMARY KEY,
    period_id       INTEGER NOT NULL REFERENCES recovery_periods (period_id) ON DELETE CASCADE,
    member_id       INTEGER NOT NULL REFERENCES members (member_id) ON DELETE CASCADE,
    milestone_days  INTEGER NOT NULL CHECK (milestone_days > 0),
    local_date      TEXT NOT NULL,
    delivery        TEXT NOT NULL CHECK (delivery IN ('channel', 'dm', 'none')),
    created_at      TEXT NOT NULL,
    UNIQUE (period_id, milestone_days)
) STRICT;

CREATE INDEX recovery_celebrations_member ON recovery_celebrations (member_id);

-- A server's own ladder. No rows = the config file's default ladder; the first change
-- copies the default in, and `/config milestones reset` deletes the rows again.
CREATE TABLE recovery_milestones (
    guild_id     INTEGER NOT NULL REFERENCES guilds (guild_id) ON DELETE CASCADE,
    days         INTEGER NOT NULL CHECK (days BETWEEN 1 AND 36500),
    description  TEXT CHECK (description IS NULL OR length(description) BETWEEN 1 AND 100),
    PRIMARY KEY (guild_id, days)
) STRICT, WITHOUT ROWID;
