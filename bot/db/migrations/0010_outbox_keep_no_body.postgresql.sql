-- PostgreSQL twin of 0010_outbox_keep_no_body.sql. PostgreSQL relaxes NOT NULL in place, so
-- no rebuild: the body goes from finished rows, and the constraint makes that a rule.
ALTER TABLE outbox ALTER COLUMN payload DROP NOT NULL;
UPDATE outbox SET payload = NULL WHERE status != 'pending';
ALTER TABLE outbox ADD CHECK ((status = 'pending') = (payload IS NOT NULL));
