-- Alert delivery settings, one row per setting (for now only `webhook_url`), so a setting
-- can be added without a migration. Portable SQL as in the first migration.
CREATE TABLE alert_settings (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
