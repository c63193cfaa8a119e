-- Gateway keys with their own limits and budget, and the exact response cache (issue 13).
-- Additive, portable as the first migration (one ADD COLUMN per statement, which SQLite
-- requires); every default means "as before".
ALTER TABLE api_keys ADD COLUMN rpm_limit BIGINT;
ALTER TABLE api_keys ADD COLUMN tpm_limit BIGINT;
-- micro-dollars per calendar month (UTC), as on provider accounts
ALTER TABLE api_keys ADD COLUMN monthly_budget BIGINT;
ALTER TABLE api_keys ADD COLUMN soft_budget BIGINT NOT NULL DEFAULT 0 CHECK (soft_budget IN (0, 1));
-- The owner label spend is grouped by; empty when none.
ALTER TABLE api_keys ADD COLUMN team TEXT NOT NULL DEFAULT '';

-- Spend per gateway key and month, written with spend_monthly by the usage batch writer, so a
-- key's budget holds across restarts.
CREATE TABLE key_spend_monthly (
    key_id       TEXT NOT NULL,
    month        TEXT NOT NULL,
    spent_micros BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (key_id, month)
);

-- JSON {ttl_seconds, scope, nonzero_temperature}; NULL: the model's answers are not cached.
ALTER TABLE logical_models ADD COLUMN cache TEXT;

-- 'hit' when the answer came from the response cache, 'miss' when it was looked up and not
-- found; NULL when the model has no cache (or the request said no-store).
ALTER TABLE usage_events ADD COLUMN cache TEXT;
-- What a cache hit would have cost at a provider, in micro-dollars.
ALTER TABLE usage_events ADD COLUMN saved_micros BIGINT NOT NULL DEFAULT 0;

-- Budget alerts now come from keys too: `subject` is 'key' for a key's (its name in `account`)
-- and empty for an account's, so a key and an account of the same name each alert once.
DROP INDEX alerts_budget_once;
CREATE UNIQUE INDEX alerts_budget_once ON alerts (kind, account, subject, month, threshold)
    WHERE kind = 'budget';

-- The dashboard's hit rate and savings read only the rows that asked the cache.
CREATE INDEX usage_events_cache_at ON usage_events (at_ms) WHERE cache IS NOT NULL;
