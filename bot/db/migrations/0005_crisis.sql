-- Crisis alerts and server-local crisis resources (SPEC §2 Crisis resources, §3, §5).

-- One row per moderator alert: raised by passive detection or asked for with /alertmods.
-- NEVER the message text (nor the /alertmods note): only ids, tier, rule, what was done
-- and who acted. `modifiers` holds fixed labels from the rule file ("timing +1"), never
-- words from the message. Burst messages merge into the open alert (`repeat_count`).
CREATE TABLE crisis_alerts (
    alert_id          INTEGER PRIMARY KEY,
    guild_id          INTEGER NOT NULL REFERENCES guilds (guild_id) ON DELETE CASCADE,
    member_id         INTEGER NOT NULL REFERENCES members (member_id) ON DELETE CASCADE,
    source            TEXT NOT NULL CHECK (source IN ('detection', 'request')),
    channel_id        INTEGER NOT NULL,
    message_id        INTEGER,
    tier              INTEGER NOT NULL CHECK (tier BETWEEN 0 AND 3),
    path              TEXT CHECK (path IS NULL OR path IN ('self', 'other', 'abuse')),
    need              TEXT NOT NULL DEFAULT 'general'
                      CHECK (need IN ('general', 'imminent', 'overdose', 'relapse')),
    rule_id           TEXT,
    ruleset_version   TEXT,
    modifiers         TEXT NOT NULL DEFAULT '',
    lang              TEXT NOT NULL DEFAULT 'en',
    pinged            INTEGER NOT NULL DEFAULT 0 CHECK (pinged IN (0, 1)),
    prior_alerts      INTEGER NOT NULL DEFAULT 0 CHECK (prior_alerts >= 0),
    dm_status         TEXT NOT NULL DEFAULT 'not_offered'
                      CHECK (dm_status IN ('not_offered', 'opted_out', 'cooldown', 'pending',
                                           'sent', 'nudged', 'undelivered')),
    dm_at             TEXT,
    repeat_count      INTEGER NOT NULL DEFAULT 0 CHECK (repeat_count >= 0),
    alert_channel_id  INTEGER,
    alert_message_id  INTEGER,
    status            TEXT NOT NULL DEFAULT 'open'
                      CHECK (status IN ('open', 'acknowledged', 'resolved', 'false_alarm')),
    acknowledged_by   INTEGER,
    acknowledged_at   TEXT,
    resolved_by       INTEGER,
    resolved_at       TEXT,
    created_at        TEXT NOT NULL,
    last_seen_at      TEXT NOT NULL,
    UNIQUE (guild_id, message_id),
    CHECK ((source = 'detection') = (message_id IS NOT NULL AND rule_id IS NOT NULL))
) STRICT;

CREATE INDEX crisis_alerts_member ON crisis_alerts (member_id, created_at);
CREATE INDEX crisis_alerts_nudges ON crisis_alerts (channel_id, dm_at) WHERE dm_status = 'nudged';

-- Resources a server's moderators add with /config resources; shown with /crisis there.
CREATE TABLE crisis_local_resources (
    resource_id  INTEGER PRIMARY KEY,
    guild_id     INTEGER NOT NULL REFERENCES guilds (guild_id) ON DELETE CASCADE,
    country      TEXT NOT NULL CHECK (length(country) = 2),
    name         TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 80),
    contact      TEXT NOT NULL CHECK (length(contact) BETWEEN 1 AND 200),
    created_at   TEXT NOT NULL,
    UNIQUE (guild_id, country, name COLLATE NOCASE)
) STRICT;
