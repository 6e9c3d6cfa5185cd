-- Accountability buddies: requests, pairs, the matching pool, pauses, nudges and rounds.
-- Members are referred to by members(member_id) ON DELETE CASCADE, so deleting a member
-- row removes their requests, pairs (and those pairs' nudges), pool place and pause.
-- Instants are UTC ISO-8601 text; local days are 'YYYY-MM-DD' text.

-- A request from one member to another. One pending request per direction; requests
-- expire (`expires_at`) if nobody answers.
CREATE TABLE buddy_requests (
    request_id    INTEGER PRIMARY KEY,
    guild_id      INTEGER NOT NULL REFERENCES guilds (guild_id) ON DELETE CASCADE,
    requester_id  INTEGER NOT NULL REFERENCES members (member_id) ON DELETE CASCADE,
    target_id     INTEGER NOT NULL REFERENCES members (member_id) ON DELETE CASCADE,
    status        TEXT NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'accepted', 'declined', 'cancelled', 'expired')),
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    resolved_at   TEXT,
    CHECK (requester_id != target_id),
    CHECK ((status = 'pending') = (resolved_at IS NULL))
) STRICT;

CREATE UNIQUE INDEX buddy_requests_pending ON buddy_requests (requester_id, target_id)
    WHERE status = 'pending';
CREATE INDEX buddy_requests_target ON buddy_requests (target_id) WHERE status = 'pending';
CREATE INDEX buddy_requests_expiry ON buddy_requests (expires_at) WHERE status = 'pending';
CREATE INDEX buddy_requests_resolved ON buddy_requests (resolved_at) WHERE status != 'pending';

-- A pairing. `member_a < member_b`, so two members have at most one active pair (the
-- partial unique index). Ended pairs are kept for the repeat-avoidance period only.
CREATE TABLE buddy_pairs (
    pair_id     INTEGER PRIMARY KEY,
    guild_id    INTEGER NOT NULL REFERENCES guilds (guild_id) ON DELETE CASCADE,
    member_a    INTEGER NOT NULL REFERENCES members (member_id) ON DELETE CASCADE,
    member_b    INTEGER NOT NULL REFERENCES members (member_id) ON DELETE CASCADE,
    origin      TEXT NOT NULL CHECK (origin IN ('request', 'match')),
    started_at  TEXT NOT NULL,
    ended_at    TEXT,
    ended_by    INTEGER REFERENCES members (member_id) ON DELETE SET NULL,
    end_reason  TEXT CHECK (end_reason IN ('ended', 'left', 'left_server', 'unreachable')),
    CHECK (member_a < member_b),
    CHECK ((ended_at IS NULL) = (end_reason IS NULL))
) STRICT;

CREATE UNIQUE INDEX buddy_pairs_active ON buddy_pairs (member_a, member_b) WHERE ended_at IS NULL;
CREATE INDEX buddy_pairs_a ON buddy_pairs (member_a);
CREATE INDEX buddy_pairs_b ON buddy_pairs (member_b);
CREATE INDEX buddy_pairs_guild_active ON buddy_pairs (guild_id) WHERE ended_at IS NULL;
CREATE INDEX buddy_pairs_ended ON buddy_pairs (ended_at) WHERE ended_at IS NOT NULL;

-- Members waiting for `/buddy find` to pair them. `told_waiting_at` records that the
-- member was told they were left over in a round (they are told once per stay).
CREATE TABLE buddy_pool (
    member_id        INTEGER PRIMARY KEY REFERENCES members (member_id) ON DELETE CASCADE,
    guild_id         INTEGER NOT NULL REFERENCES guilds (guild_id) ON DELETE CASCADE,
    joined_at        TEXT NOT NULL,
    told_waiting_at  TEXT
) STRICT;

CREATE INDEX buddy_pool_guild ON buddy_pool (guild_id, joined_at);

-- `/buddy pause`: no nudges to or about the member until `paused_until`. The row stays
-- after the pause ends so absence is counted from the end of the break.
CREATE TABLE buddy_pauses (
    member_id     INTEGER PRIMARY KEY REFERENCES members (member_id) ON DELETE CASCADE,
    guild_id      INTEGER NOT NULL REFERENCES guilds (guild_id) ON DELETE CASCADE,
    paused_at     TEXT NOT NULL,
    paused_until  TEXT NOT NULL
) STRICT;

-- Every nudge decided on. `local_date` is the day the once-a-day rule counts in: the
-- sender's local day for a manual nudge, the recipient's for an automatic one. An
-- automatic nudge also records the day the absence was counted from, so one stretch of
-- absence brings one nudge. The outbox row carries the same `dedupe_key`.
CREATE TABLE buddy_nudges (
    nudge_id      INTEGER PRIMARY KEY,
    pair_id       INTEGER NOT NULL REFERENCES buddy_pairs (pair_id) ON DELETE CASCADE,
    guild_id      INTEGER NOT NULL REFERENCES guilds (guild_id) ON DELETE CASCADE,
    kind          TEXT NOT NULL CHECK (kind IN ('manual', 'auto')),
    sender_id     INTEGER REFERENCES members (member_id) ON DELETE CASCADE,
    recipient_id  INTEGER NOT NULL REFERENCES members (member_id) ON DELETE CASCADE,
    about_id      INTEGER REFERENCES members (member_id) ON DELETE CASCADE,
    local_date    TEXT NOT NULL CHECK (local_date GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]'),
    absent_since  TEXT CHECK (absent_since IS NULL OR absent_since GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]'),
    dedupe_key    TEXT NOT NULL UNIQUE,
    created_at    TEXT NOT NULL,
    CHECK ((kind = 'manual') = (sender_id IS NOT NULL)),
    CHECK ((kind = 'auto') = (about_id IS NOT NULL AND absent_since IS NOT NULL))
) STRICT;

CREATE UNIQUE INDEX buddy_nudges_daily ON buddy_nudges (pair_id, kind, recipient_id, local_date);
CREATE UNIQUE INDEX buddy_nudges_episode ON buddy_nudges (pair_id, recipient_id, absent_since)
    WHERE kind = 'auto';
CREATE INDEX buddy_nudges_pair_time ON buddy_nudges (pair_id, created_at);
CREATE INDEX buddy_nudges_recipient ON buddy_nudges (recipient_id);
CREATE INDEX buddy_nudges_about ON buddy_nudges (about_id) WHERE about_id IS NOT NULL;

-- One matching round per server and local date (the server's zone): the primary key
-- makes a second round on the same day impossible, whatever restarts do.
CREATE TABLE buddy_rounds (
    guild_id    INTEGER NOT NULL REFERENCES guilds (guild_id) ON DELETE CASCADE,
    round_date  TEXT NOT NULL CHECK (round_date GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]'),
    ran_at      TEXT NOT NULL,
    considered  INTEGER NOT NULL,
    paired      INTEGER NOT NULL,
    PRIMARY KEY (guild_id, round_date)
) STRICT;
