-- Servers, members and their settings, and the outbox of scheduled messages.
-- Instants are UTC ISO-8601 text; local wall times are 'HH:MM' beside an IANA zone.
-- NULL in a guild setting means "the config file's default".

CREATE TABLE guilds (
    guild_id                INTEGER PRIMARY KEY,
    timezone                TEXT,
    region                  TEXT CHECK (region IS NULL OR length(region) = 2),
    checkin_channel_id      INTEGER,
    checkin_time            TEXT CHECK (checkin_time IS NULL OR checkin_time GLOB '[0-2][0-9]:[0-5][0-9]'),
    checkin_enabled         INTEGER NOT NULL DEFAULT 0 CHECK (checkin_enabled IN (0, 1)),
    celebrations_channel_id INTEGER,
    celebration_hour        INTEGER CHECK (celebration_hour IS NULL OR celebration_hour BETWEEN 0 AND 23),
    alerts_channel_id       INTEGER,
    alerts_role_id          INTEGER,
    crisis_detection        INTEGER NOT NULL DEFAULT 0 CHECK (crisis_detection IN (0, 1)),
    crisis_public_nudge     INTEGER NOT NULL DEFAULT 1 CHECK (crisis_public_nudge IN (0, 1)),
    crisis_tier1_replies    INTEGER NOT NULL DEFAULT 0 CHECK (crisis_tier1_replies IN (0, 1)),
    buddy_nudge_after_days  INTEGER CHECK (buddy_nudge_after_days IS NULL OR buddy_nudge_after_days BETWEEN 1 AND 14),
    buddy_max               INTEGER CHECK (buddy_max IS NULL OR buddy_max BETWEEN 1 AND 5),
    buddy_matching          INTEGER CHECK (buddy_matching IS NULL OR buddy_matching IN (0, 1)),
    joined_at               TEXT NOT NULL,
    left_at                 TEXT,
    updated_at              TEXT NOT NULL
) STRICT;

CREATE INDEX guilds_left ON guilds (left_at) WHERE left_at IS NOT NULL;

CREATE TABLE members (
    member_id       INTEGER PRIMARY KEY,
    guild_id        INTEGER NOT NULL REFERENCES guilds (guild_id) ON DELETE CASCADE,
    user_id         INTEGER NOT NULL,
    timezone        TEXT,
    region          TEXT CHECK (region IS NULL OR length(region) = 2),
    quiet_start     TEXT CHECK (quiet_start IS NULL OR quiet_start GLOB '[0-2][0-9]:[0-5][0-9]'),
    quiet_end       TEXT CHECK (quiet_end IS NULL OR quiet_end GLOB '[0-2][0-9]:[0-5][0-9]'),
    crisis_replies  INTEGER NOT NULL DEFAULT 1 CHECK (crisis_replies IN (0, 1)),
    share_checkins  TEXT NOT NULL DEFAULT 'nobody' CHECK (share_checkins IN ('nobody', 'buddies')),
    dm_closed_at    TEXT,
    created_at      TEXT NOT NULL,
    last_active_at  TEXT NOT NULL,
    UNIQUE (guild_id, user_id),
    CHECK ((quiet_start IS NULL) = (quiet_end IS NULL))
) STRICT;

CREATE INDEX members_user ON members (user_id);
CREATE INDEX members_last_active ON members (last_active_at);

-- Messages the scheduler decided to send. A row is inserted in the same transaction
-- that claims the due work (so the decision and the record of it commit together),
-- and sent after commit. `dedupe_key` makes a second send of the same occurrence
-- impossible; it also derives the Discord nonce, so a resend after a crash between
-- "sent" and "marked sent" is deduplicated by Discord itself.
CREATE TABLE outbox (
    outbox_id   INTEGER PRIMARY KEY,
    dedupe_key  TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    guild_id    INTEGER REFERENCES guilds (guild_id) ON DELETE CASCADE,
    member_id   INTEGER REFERENCES members (member_id) ON DELETE CASCADE,
    target      TEXT NOT NULL CHECK (target IN ('dm', 'channel')),
    target_id   INTEGER NOT NULL,
    payload     TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'sent', 'undeliverable', 'cancelled')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    not_before  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    sent_at     TEXT,
    message_id  INTEGER,
    last_error  TEXT
) STRICT;

CREATE INDEX outbox_pending ON outbox (not_before) WHERE status = 'pending';
CREATE INDEX outbox_member ON outbox (member_id) WHERE member_id IS NOT NULL;
