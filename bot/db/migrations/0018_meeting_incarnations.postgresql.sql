-- PostgreSQL twin of 0018_meeting_incarnations.sql (see 0015_row_incarnations.postgresql.sql).
ALTER TABLE meetings ADD COLUMN incarnation TEXT COLLATE "C";
