-- Outbox dedupe keys name the row an occurrence belongs to (`buddy:request:<id>`,
-- `milestone:<period>:<days>`, `mentor:request:<id>`), and the outbox keeps a finished row's key for weeks so a
-- second queueing stays a no-op. SQLite gives a new row the id of the newest row if that
-- one was deleted (`/privacy delete`, `/recovery delete`, the purges), so a key naming only
-- the id would match the earlier row's message and the new one would never be sent.
-- `incarnation` is a random text given to each new row; keys name `<id>.<incarnation>`,
-- which no later row can take. (AUTOINCREMENT would mean rebuilding these tables, whose
-- children cascade from them.) Rows made before this migration keep NULL and their old
-- keys, so messages already queued under those keys are still found and never sent twice.
ALTER TABLE buddy_requests ADD COLUMN incarnation TEXT;
ALTER TABLE buddy_pairs ADD COLUMN incarnation TEXT;
ALTER TABLE recovery_periods ADD COLUMN incarnation TEXT;
ALTER TABLE mentor_requests ADD COLUMN incarnation TEXT;
ALTER TABLE mentorships ADD COLUMN incarnation TEXT;
