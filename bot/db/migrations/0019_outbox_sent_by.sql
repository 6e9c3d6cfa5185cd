-- Which process sent a message: the claim's name (owner:host:pid:start, see `bot.services.outbox`)
-- is cleared once a row is finished, so with several shard processes an operator could not tell
-- which of them delivered it. `sent_by` keeps that name on a sent row (no member data in it).
ALTER TABLE outbox ADD COLUMN sent_by TEXT;
