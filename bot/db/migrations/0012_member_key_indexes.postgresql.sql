-- PostgreSQL twin of 0012_member_key_indexes.sql: PostgreSQL, too, looks up the referencing
-- rows of a deleted member, and without these indexes scans for them.
CREATE INDEX buddy_requests_by_requester ON buddy_requests (requester_id);
CREATE INDEX buddy_requests_by_target ON buddy_requests (target_id);
CREATE INDEX buddy_pairs_ended_by ON buddy_pairs (ended_by) WHERE ended_by IS NOT NULL;
CREATE INDEX buddy_nudges_sender ON buddy_nudges (sender_id) WHERE sender_id IS NOT NULL;
