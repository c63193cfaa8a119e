-- Alert webhook deliveries waiting to be made: written in the same transaction as the alert,
-- deleted once the receiver accepted them, so pending deliveries survive a restart.
-- Portable SQL as in the first migration.
CREATE TABLE webhook_outbox (
    id              TEXT PRIMARY KEY,
    -- The JSON body to POST.
    payload         TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt_at);
