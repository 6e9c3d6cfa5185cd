-- Daily check-ins and pledges, the per-server prompt schedule, and personal reminders.
-- A local day is 'YYYY-MM-DD' text stored beside the IANA zone that defined it.
-- Everything about a member hangs off members(member_id) ON DELETE CASCADE, so deleting
-- the member row removes their check-ins, pledges and reminder.

CREATE TABLE checkins (
    checkin_id  INTEGER PRIMARY KEY,
    member_id   INTEGER NOT NULL REFERENCES members (member_id) ON DELETE CASCADE,
    local_date  TEXT NOT NULL CHECK (local_date GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]'),
    timezone    TEXT NOT NULL,
    mood        INTEGER NOT NULL CHECK (mood BETWEEN 1 AND 5),
    craving     INTEGER CHECK (craving IS NULL OR craving BETWEEN 0 AND 10),
    note        TEXT CHECK (note IS NULL OR length(note) BETWEEN 1 AND 500),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    -- One check-in per member and local day; the index also serves streaks and
    -- "latest check-in per member" (buddy nudges) in date order.
    UNIQUE (member_id, local_date)
) STRICT;

CREATE TABLE pledges (
    pledge_id   INTEGER PRIMARY KEY,
    member_id   INTEGER NOT NULL REFERENCES members (member_id) ON DELETE CASCADE,
    local_date  TEXT NOT NULL CHECK (local_date GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]'),
    timezone    TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    UNIQUE (member_id, local_date)
) STRICT;

-- When each server's next daily prompt is due (a row only while prompts are on).
-- The sweep reads `next_due_at <= now` through the index: cost follows due rows.
CREATE TABLE checkin_prompt_schedule (
    guild_id    INTEGER PRIMARY KEY REFERENCES guilds (guild_id) ON DELETE CASCADE,
    next_due_at TEXT NOT NULL
) STRICT;

CREATE INDEX checkin_prompt_schedule_due ON checkin_prompt_schedule (next_due_at);

-- One row per prompt decided on: the primary key makes a second prompt for the same
-- server and local date impossible, whatever restarts or DST nights do.
CREATE TABLE checkin_prompts (
    guild_id     INTEGER NOT NULL REFERENCES guilds (guild_id) ON DELETE CASCADE,
    local_date   TEXT NOT NULL CHECK (local_date GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]'),
    timezone     TEXT NOT NULL,
    channel_id   INTEGER NOT NULL,
    prompt_index INTEGER NOT NULL,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (guild_id, local_date)
) STRICT;

-- A member's daily reminder DM. `timezone` is the zone `next_due_at` was computed in;
-- `last_sent_date` (a local date) makes the reminder once per member and local day;
-- `dm_closed_date` remembers the local day Discord refused the DM, for `/settings show`.
CREATE TABLE checkin_reminders (
    member_id      INTEGER PRIMARY KEY REFERENCES members (member_id) ON DELETE CASCADE,
    remind_time    TEXT NOT NULL CHECK (remind_time GLOB '[0-2][0-9]:[0-5][0-9]'),
    timezone       TEXT NOT NULL,
    next_due_at    TEXT NOT NULL,
    last_sent_date TEXT,
    dm_closed_date TEXT,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
) STRICT;

CREATE INDEX checkin_reminders_due ON checkin_reminders (next_due_at);
