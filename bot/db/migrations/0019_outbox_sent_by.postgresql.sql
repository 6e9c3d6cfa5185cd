-- PostgreSQL twin of 0019_outbox_sent_by.sql.
ALTER TABLE outbox ADD COLUMN sent_by TEXT;
