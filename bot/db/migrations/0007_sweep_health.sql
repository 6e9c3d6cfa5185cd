-- When each scheduled sweep last ran, and when the gateway was last heard from, so that
-- `python -m bot status` (another process) and the ops channel can tell a process whose timers
-- stopped from a healthy one. Operational only: no member, server or message data, ever; an
-- error is recorded as an exception class name, never a message.
CREATE TABLE sweep_health (
    name             TEXT NOT NULL,              -- a sweep's name, or 'gateway'
    scope            TEXT NOT NULL DEFAULT '',   -- '' for a single process; a shard range otherwise
    interval_seconds INTEGER NOT NULL CHECK (interval_seconds > 0),
    last_started_at  TEXT,
    last_finished_at TEXT,
    last_ok_at       TEXT,
    last_error       TEXT,
    PRIMARY KEY (name, scope)
) STRICT;
