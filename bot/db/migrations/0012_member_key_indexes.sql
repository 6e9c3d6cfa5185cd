-- Deleting a member (/privacy delete, the retention purge) makes SQLite look up every row
-- that references the member's row. These references had no index it could use (the
-- request indexes cover pending requests only), so each deleted member cost a scan of
-- these tables: a purge of thousands slowed down with every buddy pair ever made.
CREATE INDEX buddy_requests_by_requester ON buddy_requests (requester_id);
CREATE INDEX buddy_requests_by_target ON buddy_requests (target_id);
CREATE INDEX buddy_pairs_ended_by ON buddy_pairs (ended_by) WHERE ended_by IS NOT NULL;
CREATE INDEX buddy_nudges_sender ON buddy_nudges (sender_id) WHERE sender_id IS NOT NULL;
