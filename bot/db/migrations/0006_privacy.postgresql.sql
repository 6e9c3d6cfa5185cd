-- PostgreSQL twin of 0006_privacy.sql.
CREATE TABLE privacy_delete_requests (
    member_id     BIGINT PRIMARY KEY REFERENCES members (member_id) ON DELETE CASCADE,
    requested_at  TEXT COLLATE "C" NOT NULL,
    expires_at    TEXT COLLATE "C" NOT NULL
);
