-- Coping tools: a member's private relapse-prevention plan, and the urges they surfed.
-- Both hang off members(member_id) ON DELETE CASCADE, so /privacy delete and the retention
-- purge remove them with the member, and /privacy export finds them by that key.
-- Plain SQL that ports to PostgreSQL: no SQLite-only functions, text instants, CHECKs.

-- One plan per member and server. Each part is optional (NULL when left empty), at most
-- 500 characters; a plan with every part empty is not kept (the row is deleted instead).
CREATE TABLE relapse_plans (
    member_id      INTEGER PRIMARY KEY REFERENCES members (member_id) ON DELETE CASCADE,
    warning_signs  TEXT CHECK (warning_signs IS NULL OR length(warning_signs) BETWEEN 1 AND 500),
    triggers       TEXT CHECK (triggers IS NULL OR length(triggers) BETWEEN 1 AND 500),
    coping         TEXT CHECK (coping IS NULL OR length(coping) BETWEEN 1 AND 500),
    people         TEXT CHECK (people IS NULL OR length(people) BETWEEN 1 AND 500),
    reasons        TEXT CHECK (reasons IS NULL OR length(reasons) BETWEEN 1 AND 500),
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    CHECK (warning_signs IS NOT NULL OR triggers IS NOT NULL OR coping IS NOT NULL
           OR people IS NOT NULL OR reasons IS NOT NULL)
) STRICT;

-- One row per `/urge`. `checkback_due_at` is set while the check-back DM is still to be
-- decided on (the sweep reads it through the partial index, so its cost follows due rows);
-- the sweep clears it in the transaction that queues the DM (outbox key
-- `urge:<urge_id>:checkback`), so a check-back is decided on once, whatever restarts do.
-- `checkback` says what became of it: scheduled, queued (handed to the outbox), dm_closed
-- (Discord refused a DM when the urge began: the member answers on the reply instead),
-- or skipped (the bot was down until long after its time).
CREATE TABLE urges (
    urge_id           INTEGER PRIMARY KEY,
    member_id         INTEGER NOT NULL REFERENCES members (member_id) ON DELETE CASCADE,
    strength_before   INTEGER CHECK (strength_before IS NULL OR strength_before BETWEEN 0 AND 10),
    strength_after    INTEGER CHECK (strength_after IS NULL OR strength_after BETWEEN 0 AND 10),
    minutes           INTEGER NOT NULL CHECK (minutes BETWEEN 5 AND 60),
    created_at        TEXT NOT NULL,
    checkback_due_at  TEXT,
    checkback         TEXT NOT NULL DEFAULT 'scheduled'
                      CHECK (checkback IN ('scheduled', 'queued', 'dm_closed', 'skipped')),
    answered_at       TEXT,
    CHECK ((checkback = 'scheduled') = (checkback_due_at IS NOT NULL)),
    CHECK ((strength_after IS NULL) = (answered_at IS NULL))
) STRICT;

CREATE INDEX urges_checkback_due ON urges (checkback_due_at) WHERE checkback_due_at IS NOT NULL;
CREATE INDEX urges_member ON urges (member_id, created_at);
