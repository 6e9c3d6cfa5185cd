-- Each outbox row is claimed just before it is sent: `claimed_by` names the sender (an owner
-- and a token per process start), `claimed_until` when the claim lapses if that sender died.
-- A claim is taken only on a row that is still pending, so a change that cancelled the row
-- (or deleted it with its member) wins over a batch already read; only the claimant may
-- record the outcome.
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE outbox ADD COLUMN claimed_until TEXT
    CHECK ((claimed_until IS NULL) = (claimed_by IS NULL));
