-- Pending "/privacy delete" confirmations: the confirm button only works for the member
-- who asked, in the server where they asked, for a few minutes.
CREATE TABLE privacy_delete_requests (
    member_id     INTEGER PRIMARY KEY REFERENCES members (member_id) ON DELETE CASCADE,
    requested_at  TEXT NOT NULL,
    expires_at    TEXT NOT NULL
) STRICT;
