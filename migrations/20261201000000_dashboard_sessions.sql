-- Dashboard sessions, in Switchyard's own table on either database (tower-sessions' sqlx store,
-- which kept them before, forced sqlx's default features and with them a second build of sqlx).
-- The record is tower-sessions' JSON; expires_at is Unix seconds. Sessions from the old store's
-- table are not carried over: people sign in once more after the upgrade.
CREATE TABLE dashboard_sessions (
    id         TEXT PRIMARY KEY,
    record     TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX dashboard_sessions_expires_at ON dashboard_sessions (expires_at);
