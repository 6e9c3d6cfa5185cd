-- A posted crisis alert is edited as its state changes (the DM's outcome, a burst folded in,
-- a moderator's acknowledgement or resolution). Each change of what the alert shows bumps
-- `version`; `shown_version` is the newest one the posted message is known to show, so an
-- edit rendered from an older read never replaces a newer one (a moderator's "Resolved"
-- is never overwritten by a refresh that read the alert before it).
ALTER TABLE crisis_alerts ADD COLUMN version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1);
ALTER TABLE crisis_alerts ADD COLUMN shown_version INTEGER NOT NULL DEFAULT 0 CHECK (shown_version >= 0);
