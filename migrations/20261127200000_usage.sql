-- The usage ledger and monthly spend, written in batches by the telemetry writer (never on the
-- request path). Portable SQL as in the first migration: text ids, Unix-millisecond times,
-- integer micro-dollars, BIGINT 0/1 flags.
CREATE TABLE usage_events (
    id                TEXT PRIMARY KEY,
    at_ms             BIGINT NOT NULL,
    key_id            TEXT NOT NULL,
    logical_model     TEXT NOT NULL,
    policy            TEXT,
    step_type         TEXT NOT NULL,
    purpose           TEXT NOT NULL,
    -- The account and provider model that answered (or failed last); NULL when none was tried.
    account           TEXT,
    provider_model    TEXT,
    stream            BIGINT NOT NULL CHECK (stream IN (0, 1)),
    status            BIGINT NOT NULL,
    attempts          BIGINT NOT NULL,
    prompt_tokens     BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    cost_micros       BIGINT NOT NULL,
    latency_ms        BIGINT NOT NULL,
    error             TEXT
);
CREATE INDEX usage_events_at ON usage_events (at_ms);
CREATE INDEX usage_events_account_at ON usage_events (account, at_ms);

CREATE TABLE spend_monthly (
    account     TEXT NOT NULL,
    -- Calendar month in UTC, `2026-11`.
    month       TEXT NOT NULL,
    spent_micros BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (account, month)
);

-- Alerts raised by the server; for now budget thresholds, each at most once per account, month
-- and threshold (the unique key makes a repeat a no-op even across restarts and instances).
CREATE TABLE alerts (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    account      TEXT NOT NULL,
    month        TEXT NOT NULL,
    threshold    BIGINT NOT NULL,
    message      TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    acknowledged BIGINT NOT NULL DEFAULT 0 CHECK (acknowledged IN (0, 1)),
    UNIQUE (kind, account, month, threshold)
);
