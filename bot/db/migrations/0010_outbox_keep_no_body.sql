-- A message's body is kept only while it may still be sent. Once it is sent, given up or
-- withdrawn, exactly-once needs just its key (a second queueing of the occurrence stays a
-- no-op), its status and times, and the message id; the words (often naming members, as a
-- buddy request names the one who asked) are dropped. The constraint makes that a rule.
-- SQLite cannot relax NOT NULL in place, so the table is rebuilt.
CREATE TABLE outbox_new (
    outbox_id     INTEGER PRIMARY KEY,
    dedupe_key    TEXT NOT NULL UNIQUE,
    kind          TEXT NOT NULL,
    guild_id      INTEGER REFERENCES guilds (guild_id) ON DELETE CASCADE,
    member_id     INTEGER REFERENCES members (member_id) ON DELETE CASCADE,
    target        TEXT NOT NULL CHECK (target IN ('dm', 'channel')),
    target_id     INTEGER NOT NULL,
    payload       TEXT,
    status        TEXT NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'sent', 'undeliverable', 'cancelled')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    not_before    TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    sent_at       TEXT,
    message_id    INTEGER,
    last_error    TEXT,
    claimed_by    TEXT,
    claimed_until TEXT,
    CHECK ((status = 'pending') = (payload IS NOT NULL)),
    CHECK ((claimed_until IS NULL) = (claimed_by IS NULL))
) STRICT;

INSERT INTO outbox_new (outbox_id, dedupe_key, kind, guild_id, member_id, target, target_id, payload, status,
                        attempts, not_before, created_at, sent_at, message_id, last_error, claimed_by, claimed_until)
SELECT outbox_id, dedupe_key, kind, guild_id, member_id, target, target_id,
       CASE WHEN status = 'pending' THEN payload END, status,
       attempts, not_before, created_at, sent_at, message_id, last_error, claimed_by, claimed_until
FROM outbox;

DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;

CREATE INDEX outbox_pending ON outbox (not_before) WHERE status = 'pending';
CREATE INDEX outbox_member ON outbox (member_id) WHERE member_id IS NOT NULL;
