-- PostgreSQL twin of 0015_row_incarnations.sql. PostgreSQL's identities never give a deleted
-- row's id again, but keys name `<id>.<incarnation>` on both engines (and a database converted
-- from SQLite carries its rows' incarnations).
ALTER TABLE buddy_requests ADD COLUMN incarnation TEXT COLLATE "C";
ALTER TABLE buddy_pairs ADD COLUMN incarnation TEXT COLLATE "C";
ALTER TABLE recovery_periods ADD COLUMN incarnation TEXT COLLATE "C";
ALTER TABLE mentor_requests ADD COLUMN incarnation TEXT COLLATE "C";
ALTER TABLE mentorships ADD COLUMN incarnation TEXT COLLATE "C";
