-- Load balancing (issue 17): a strategy and retries per logical model, a weight per target,
-- canary split arms per policy, the arm each request took, and retries in the policy rollups.
-- Additive only: every column has a default that means "as before", so existing rows keep
-- routing the way they did. Portable as the first migration (one ADD COLUMN per statement,
-- which SQLite requires).
ALTER TABLE logical_models ADD COLUMN strategy TEXT NOT NULL DEFAULT 'ordered';
ALTER TABLE logical_models ADD COLUMN retries BIGINT NOT NULL DEFAULT 0;
ALTER TABLE logical_model_targets ADD COLUMN weight BIGINT NOT NULL DEFAULT 1;
-- JSON list of {route, weight}; empty when the policy has a single route.
ALTER TABLE policies ADD COLUMN split TEXT NOT NULL DEFAULT '[]';
-- The canary arm (its first logical model) a split policy sent the request down.
-- (The per-arm figures read by policy and time through usage_events_policy_at, made by the
-- usage rollups migration.)
ALTER TABLE usage_events ADD COLUMN arm TEXT;
ALTER TABLE policy_stats_minute ADD COLUMN retries BIGINT NOT NULL DEFAULT 0;
