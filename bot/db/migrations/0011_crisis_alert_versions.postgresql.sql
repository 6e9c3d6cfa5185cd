-- PostgreSQL twin of 0011_crisis_alert_versions.sql.
ALTER TABLE crisis_alerts ADD COLUMN version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1);
ALTER TABLE crisis_alerts ADD COLUMN shown_version INTEGER NOT NULL DEFAULT 0 CHECK (shown_version >= 0);
