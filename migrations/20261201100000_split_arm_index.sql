-- The per-arm figures of split policies (the Policies page) read the last 24 hours of rows that
-- have an arm. Without this index SQLite chose usage_events_policy_at for `policy IS NOT NULL`
-- and walked every row with a policy (234 ms in bench/run's million rows; on a synthetic million
-- rows, 121 ms before and 10 ms with this index). Partial: it holds only split-policy traffic.
CREATE INDEX usage_events_arm_at ON usage_events (at_ms) WHERE arm IS NOT NULL;
