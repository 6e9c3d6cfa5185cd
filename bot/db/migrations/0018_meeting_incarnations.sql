-- Meeting reminders are queued under `meeting:<id>:remind:<member>:<occurrence>`, and the outbox
-- keeps a finished row's key for weeks so a second queueing stays a no-op. A meeting added after
-- one was removed may be given the removed one's id (SQLite reuses the newest row's id), and its
-- reminder for the same occurrence would then match the old key and never be sent. As in
-- 0015_row_incarnations, `incarnation` is a random text given to each new meeting, and its keys
-- name `<id>.<incarnation>` (`bot.domain.keys`). Meetings made before this keep NULL and their
-- old keys, so reminders already queued under them are still found and never sent twice.
ALTER TABLE meetings ADD COLUMN incarnation TEXT;
