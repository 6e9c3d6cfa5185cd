-- Mentors (SPEC §2 "Mentors", §3 /config mentors, §4 mentor nudge): offers, requests,
-- mentorships and the nudges about quiet mentees. Every row names members by
-- members(member_id) ON DELETE CASCADE, so export and delete reach all of it.
-- Instants are UTC ISO-8601 text; local days 'YYYY-MM-DD' text. Written to port to
-- PostgreSQL as it is: no GLOB, no SQLite-only functions (STRICT aside, as in every table).

-- The server's mentor settings (NULL: the config file's default).
ALTER TABLE guilds ADD COLUMN mentors_enabled INTEGER CHECK (mentors_enabled IS NULL OR mentors_enabled IN (0, 1));
ALTER TABLE guilds ADD COLUMN mentor_role_id INTEGER;
ALTER TABLE guilds ADD COLUMN mentor_min_days INTEGER
    CHECK (mentor_min_days IS NULL OR mentor_min_days BETWEEN 0 AND 3650);

-- `/mentor offer`: one offer per member and server. `/mentor stop` keeps the row (with its
-- focus and capacity for a later `/mentor offer`) but takes it out of `/mentor find`.
-- `qualified_role_id` is the role the server required when the member offered (NULL:
-- none), so a later change of the required role takes the offer out of the list until
-- the member offers again with the new role.
CREATE TABLE mentor_offers (
    member_id          INTEGER PRIMARY KEY REFERENCES members (member_id) ON DELETE CASCADE,
    guild_id           INTEGER NOT NULL REFERENCES guilds (guild_id) ON DELETE CASCADE,
    focus              TEXT CHECK (focus IS NULL OR length(focus) BETWEEN 1 AND 60),
    capacity           INTEGER NOT NULL CHECK (capacity BETWEEN 1 AND 5),
    qualified_role_id  INTEGER,
    offered_at         TEXT NOT NULL,
    stopped_at         TEXT
) STRICT;

CREATE INDEX mentor_offers_guild ON mentor_offers (guild_id, offered_at);

-- A mentee's request. The mentee's words (`message`) are kept only while the request is
-- open: the constraint makes that a rule. One open request per mentee.
CREATE TABLE mentor_requests (
    request_id   INTEGER PRIMARY KEY,
    guild_id     INTEGER NOT NULL REFERENCES guilds (guild_id) ON DELETE CASCADE,
    mentee_id    INTEGER NOT NULL REFERENCES members (member_id) ON DELETE CASCADE,
    mentor_id    INTEGER NOT NULL REFERENCES members (member_id) ON DELETE CASCADE,
    message      TEXT CHECK (message IS NULL OR length(message) BETWEEN 1 AND 200),
    status       TEXT NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'accepted', 'declined', 'cancelled', 'expired')),
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    resolved_at  TEXT,
    CHECK (mentee_id != mentor_id),
    CHECK ((status = 'pending') = (resolved_at IS NULL)),
    CHECK (status = 'pending' OR message IS NULL)
) STRICT;

CREATE UNIQUE INDEX mentor_requests_one_open ON mentor_requests (mentee_id) WHERE status = 'pending';
CREATE INDEX mentor_requests_by_mentee ON mentor_requests (mentee_id);
CREATE INDEX mentor_requests_by_mentor ON mentor_requests (mentor_id);
CREATE INDEX mentor_requests_expiry ON mentor_requests (expires_at) WHERE status = 'pending';
CREATE INDEX mentor_requests_resolved ON mentor_requests (resolved_at) WHERE status != 'pending';

-- A mentorship. A mentee has one mentor at a time (the partial unique index). What the
-- mentor sees is the mentee's choice, nothing by default: `checkins_shared_at` is when the
-- mentee began sharing check-in days and streak (NULL: not shared; absence is counted from
-- then, so choosing to share never brings an instant nudge), `share_counters` whether
-- their counters are shared. Ended mentorships are kept 30 days, then deleted.
CREATE TABLE mentorships (
    mentorship_id       INTEGER PRIMARY KEY,
    guild_id            INTEGER NOT NULL REFERENCES guilds (guild_id) ON DELETE CASCADE,
    mentor_id           INTEGER NOT NULL REFERENCES members (member_id) ON DELETE CASCADE,
    mentee_id           INTEGER NOT NULL REFERENCES members (member_id) ON DELETE CASCADE,
    started_at          TEXT NOT NULL,
    checkins_shared_at  TEXT,
    share_counters      INTEGER NOT NULL DEFAULT 0 CHECK (share_counters IN (0, 1)),
    ended_at            TEXT,
    ended_by            INTEGER REFERENCES members (member_id) ON DELETE SET NULL,
    end_reason          TEXT CHECK (end_reason IN ('ended', 'left', 'left_server')),
    CHECK (mentor_id != mentee_id),
    CHECK ((ended_at IS NULL) = (end_reason IS NULL))
) STRICT;

CREATE UNIQUE INDEX mentorships_one_mentor ON mentorships (mentee_id) WHERE ended_at IS NULL;
CREATE INDEX mentorships_by_mentor ON mentorships (mentor_id);
CREATE INDEX mentorships_by_mentee ON mentorships (mentee_id);
CREATE INDEX mentorships_ended_by ON mentorships (ended_by) WHERE ended_by IS NOT NULL;
CREATE INDEX mentorships_guild_active ON mentorships (guild_id) WHERE ended_at IS NULL;
CREATE INDEX mentorships_ended ON mentorships (ended_at) WHERE ended_at IS NOT NULL;

-- Each gentle DM to a mentor about a quiet mentee: one per mentorship and (the mentor's)
-- local day, and one per stretch of absence (`absent_since`, the mentee's local day it is
-- counted from). The outbox row carries the same `dedupe_key`.
CREATE TABLE mentor_nudges (
    nudge_id       INTEGER PRIMARY KEY,
    mentorship_id  INTEGER NOT NULL REFERENCES mentorships (mentorship_id) ON DELETE CASCADE,
    guild_id       INTEGER NOT NULL REFERENCES guilds (guild_id) ON DELETE CASCADE,
    mentor_id      INTEGER NOT NULL REFERENCES members (member_id) ON DELETE CASCADE,
    mentee_id      INTEGER NOT NULL REFERENCES members (member_id) ON DELETE CASCADE,
    local_date     TEXT NOT NULL CHECK (length(local_date) = 10),
    absent_since   TEXT NOT NULL CHECK (length(absent_since) = 10),
    dedupe_key     TEXT NOT NULL UNIQUE,
    created_at     TEXT NOT NULL,
    UNIQUE (mentorship_id, local_date),
    UNIQUE (mentorship_id, absent_since)
) STRICT;

CREATE INDEX mentor_nudges_mentor ON mentor_nudges (mentor_id);
CREATE INDEX mentor_nudges_mentee ON mentor_nudges (mentee_id);
