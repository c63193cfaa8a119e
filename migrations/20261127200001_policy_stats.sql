-- Per-policy counters per minute, written once a minute from the live counters (the
-- dashboard's history; the live numbers come from memory).
CREATE TABLE policy_stats_minute (
    policy    TEXT NOT NULL,
    -- Start of the minute, Unix milliseconds.
    minute_ms BIGINT NOT NULL,
    matches   BIGINT NOT NULL,
    successes BIGINT NOT NULL,
    errors    BIGINT NOT NULL,
    fallbacks BIGINT NOT NULL,
    PRIMARY KEY (policy, minute_ms)
);
