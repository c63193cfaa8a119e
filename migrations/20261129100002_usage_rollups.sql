-- Usage rollups, written by the telemetry batch writer in the same transaction as the
-- `usage_events` rows they sum, so the dashboard's charts never scan the ledger for a long
-- window. One row per time bucket and (account, logical model, gateway key, policy, status
-- class), at three grains: `minute`, `hour` and `day` (bucket_ms is the bucket's start, Unix ms).
-- A missing account or policy is stored as '' so the key has no NULL (PostgreSQL forbids it).
-- Latency is kept as a histogram: lat_le_<bound> counts requests that took at most <bound> ms
-- (and more than the previous bound); lat_over counts the rest.
CREATE TABLE usage_rollups (
    grain             TEXT NOT NULL CHECK (grain IN ('minute', 'hour', 'day')),
    bucket_ms         BIGINT NOT NULL,
    account           TEXT NOT NULL,
    logical_model     TEXT NOT NULL,
    key_id            TEXT NOT NULL,
    policy            TEXT NOT NULL,
    -- 2xx, 4xx or 5xx: the status the app received.
    status_class      TEXT NOT NULL,
    requests          BIGINT NOT NULL,
    -- Requests answered after more than one provider call.
    fallbacks         BIGINT NOT NULL,
    streamed          BIGINT NOT NULL,
    prompt_tokens     BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    cost_micros       BIGINT NOT NULL,
    latency_ms_sum    BIGINT NOT NULL,
    lat_le_100        BIGINT NOT NULL,
    lat_le_250        BIGINT NOT NULL,
    lat_le_500        BIGINT NOT NULL,
    lat_le_1000       BIGINT NOT NULL,
    lat_le_2500       BIGINT NOT NULL,
    lat_le_5000       BIGINT NOT NULL,
    lat_le_10000      BIGINT NOT NULL,
    lat_le_30000      BIGINT NOT NULL,
    lat_over          BIGINT NOT NULL,
    PRIMARY KEY (grain, bucket_ms, account, logical_model, key_id, policy, status_class)
);
-- Per-dimension pages read one grain of one account (or model, key, policy) over a window.
CREATE INDEX usage_rollups_account ON usage_rollups (grain, account, bucket_ms);
CREATE INDEX usage_rollups_model ON usage_rollups (grain, logical_model, bucket_ms);
CREATE INDEX usage_rollups_key ON usage_rollups (grain, key_id, bucket_ms);
CREATE INDEX usage_rollups_policy ON usage_rollups (grain, policy, bucket_ms);

-- The request log pages newest first by (at_ms, id) and filters by one column at a time.
CREATE INDEX usage_events_at_id ON usage_events (at_ms, id);
CREATE INDEX usage_events_key_at ON usage_events (key_id, at_ms);
CREATE INDEX usage_events_model_at ON usage_events (logical_model, at_ms);
CREATE INDEX usage_events_policy_at ON usage_events (policy, at_ms);
CREATE INDEX usage_events_status_at ON usage_events (status, at_ms);

-- What happened to each target tried or skipped, shown when a request log row is opened.
ALTER TABLE usage_events ADD COLUMN trail TEXT;
