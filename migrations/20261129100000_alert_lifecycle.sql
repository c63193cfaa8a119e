-- Alerts that open and close: a circuit that opens and an account that turns unhealthy raise an
-- alert that is resolved when it recovers; any alert can be acknowledged. The table is rebuilt
-- because the one-per-(kind, account, month, threshold) rule now holds for budget alerts only.
-- Portable SQL as in the first migration.
CREATE TABLE alerts_v2 (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    -- Empty for alerts about the instance itself (usage spilling to disk).
    account         TEXT NOT NULL,
    -- What within the account: `account/model` for a circuit, empty otherwise.
    subject         TEXT NOT NULL DEFAULT '',
    month           TEXT NOT NULL,
    threshold       BIGINT NOT NULL,
    message         TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    resolved_at     BIGINT,
    acknowledged    BIGINT NOT NULL DEFAULT 0 CHECK (acknowledged IN (0, 1)),
    acknowledged_by TEXT,
    acknowledged_at BIGINT
);
INSERT INTO alerts_v2 (id, kind, account, month, threshold, message, created_at, acknowledged)
    SELECT id, kind, account, month, threshold, message, created_at, acknowledged FROM alerts;
DROP TABLE alerts;
ALTER TABLE alerts_v2 RENAME TO alerts;
-- A budget threshold raises one alert per account and month, across restarts and instances.
CREATE UNIQUE INDEX alerts_budget_once ON alerts (kind, account, month, threshold)
    WHERE kind = 'budget';
-- At most one open alert per condition (circuit, unhealthy account, spilling).
CREATE UNIQUE INDEX alerts_open_once ON alerts (kind, account, subject)
    WHERE resolved_at IS NULL AND kind <> 'budget';
CREATE INDEX alerts_created ON alerts (created_at);
