-- PostgreSQL twin of 0007_sweep_health.sql. Operational only: no member, server or message data.
CREATE TABLE sweep_health (
    name             TEXT COLLATE "C" NOT NULL,
    scope            TEXT COLLATE "C" NOT NULL DEFAULT '',
    interval_seconds INTEGER NOT NULL CHECK (interval_seconds > 0),
    last_started_at  TEXT COLLATE "C",
    last_finished_at TEXT COLLATE "C",
    last_ok_at       TEXT COLLATE "C",
    last_error       TEXT COLLATE "C",
    PRIMARY KEY (name, scope)
);
