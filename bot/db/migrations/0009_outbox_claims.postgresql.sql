-- PostgreSQL twin of 0009_outbox_claims.sql.
ALTER TABLE outbox ADD COLUMN claimed_by TEXT COLLATE "C";
ALTER TABLE outbox ADD COLUMN claimed_until TEXT COLLATE "C";
ALTER TABLE outbox ADD CHECK ((claimed_until IS NULL) = (claimed_by IS NULL));
