-- Meetings (SPEC §2 "Meetings", §4): weekly peer-support meetings, the Discord Scheduled
-- Event published for the next occurrence, members' reminders, and a count of reminders
-- delivered per occurrence for the moderators' pulse (counts only, no member).
-- Written to port to PostgreSQL as it is (STRICT aside, as in every table).

-- A weekly meeting: local wall time and IANA zone, never an offset, so DST never moves it.
-- Without a channel the event is "external" with `location`. `occurrence_at` is the start
-- (UTC) of the occurrence published now or next; `event_id` its Discord event (NULL: not
-- published yet, or deleted on Discord's side after it was already recreated once for this
-- occurrence, `recreated`). `next_check_at` is when the events sweep looks again: at the
-- occurrence's end (to publish the next) and hourly before it (to notice a deleted event).
CREATE TABLE meetings (
    meeting_id        INTEGER PRIMARY KEY,
    guild_id          INTEGER NOT NULL REFERENCES guilds (guild_id) ON DELETE CASCADE,
    name              TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 60),
    name_key          TEXT NOT NULL,
    weekday           INTEGER NOT NULL CHECK (weekday BETWEEN 0 AND 6),
    local_time        TEXT NOT NULL CHECK (length(local_time) = 5),
    timezone          TEXT NOT NULL,
    duration_minutes  INTEGER NOT NULL CHECK (duration_minutes BETWEEN 15 AND 240),
    channel_id        INTEGER,
    channel_kind      TEXT CHECK (channel_kind IN ('voice', 'stage')),
    location          TEXT CHECK (location IS NULL OR length(location) BETWEEN 1 AND 100),
    description       TEXT CHECK (description IS NULL OR length(description) BETWEEN 1 AND 1000),
    occurrence_at     TEXT NOT NULL,
    event_id          INTEGER,
    recreated         INTEGER NOT NULL DEFAULT 0 CHECK (recreated IN (0, 1)),
    next_check_at     TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    UNIQUE (guild_id, name_key),
    CHECK ((channel_id IS NULL) = (channel_kind IS NULL)),
    CHECK ((channel_id IS NULL) = (location IS NOT NULL))
) STRICT;

CREATE INDEX meetings_next_check ON meetings (next_check_at);

-- `/meeting remind`: a DM `minutes_before` each occurrence. `next_occurrence_at` is the
-- start of the next occurrence to remind of, `next_remind_at` when (the sweep's index).
-- The outbox key names member, meeting and occurrence, so each goes out once.
CREATE TABLE meeting_reminders (
    meeting_id          INTEGER NOT NULL REFERENCES meetings (meeting_id) ON DELETE CASCADE,
    member_id           INTEGER NOT NULL REFERENCES members (member_id) ON DELETE CASCADE,
    minutes_before      INTEGER NOT NULL CHECK (minutes_before BETWEEN 5 AND 120),
    next_occurrence_at  TEXT NOT NULL,
    next_remind_at      TEXT NOT NULL,
    created_at          TEXT NOT NULL,
    PRIMARY KEY (meeting_id, member_id)
) STRICT;

CREATE INDEX meeting_reminders_due ON meeting_reminders (next_remind_at);
CREATE INDEX meeting_reminders_member ON meeting_reminders (member_id);

-- Reminders delivered per occurrence, for `/config pulse` ("meetings attended by
-- reminder"): a count, never who. Kept 26 weeks; survives the meeting's removal.
CREATE TABLE meeting_reminder_counts (
    count_id       INTEGER PRIMARY KEY,
    guild_id       INTEGER NOT NULL REFERENCES guilds (guild_id) ON DELETE CASCADE,
    meeting_id     INTEGER REFERENCES meetings (meeting_id) ON DELETE SET NULL,
    occurrence_at  TEXT NOT NULL,
    delivered      INTEGER NOT NULL DEFAULT 0 CHECK (delivered >= 0),
    UNIQUE (meeting_id, occurrence_at)
) STRICT;

CREATE INDEX meeting_reminder_counts_guild ON meeting_reminder_counts (guild_id, occurrence_at);
