-- Configuration: provider accounts, logical models and their targets, router policies,
-- gateway keys, the price table and the audit log. Portable between SQLite and PostgreSQL as
-- in the users migration: TEXT ids, BIGINT Unix-millisecond times, BIGINT 0/1 flags. Lists
-- and small nested settings are JSON text, read and written only by the app.

CREATE TABLE provider_accounts (
    id                 TEXT PRIMARY KEY,
    name               TEXT NOT NULL UNIQUE,
    kind               TEXT NOT NULL,
    base_url           TEXT,
    enabled            BIGINT NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    rpm_limit          BIGINT,
    tpm_limit          BIGINT,
    -- micro-dollars per calendar month (UTC)
    monthly_budget     BIGINT,
    soft_budget        BIGINT NOT NULL DEFAULT 0 CHECK (soft_budget IN (0, 1)),
    alert_thresholds   TEXT NOT NULL,
    azure_endpoint     TEXT,
    azure_api_version  TEXT,
    -- JSON object: model name -> deployment name
    azure_deployments  TEXT NOT NULL DEFAULT '{}',
    -- AES-256-GCM: base64 of nonce || ciphertext; the plain key is never stored
    api_key_encrypted  TEXT,
    api_key_last4      TEXT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);

CREATE TABLE logical_models (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    description   TEXT NOT NULL DEFAULT '',
    -- JSON list, e.g. ["streaming","tools"]
    capabilities  TEXT NOT NULL,
    -- JSON object {temperature, max_tokens, top_p, stop}
    defaults      TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE logical_model_targets (
    model_id        TEXT NOT NULL REFERENCES logical_models (id) ON DELETE CASCADE,
    position        BIGINT NOT NULL,
    account_id      TEXT NOT NULL REFERENCES provider_accounts (id),
    provider_model  TEXT NOT NULL,
    PRIMARY KEY (model_id, position)
);

CREATE TABLE policies (
    id                 TEXT PRIMARY KEY,
    name               TEXT NOT NULL UNIQUE,
    priority           BIGINT NOT NULL,
    enabled            BIGINT NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    -- JSON {step_types, purposes, logical_models}
    match_criteria     TEXT NOT NULL,
    -- JSON list of logical model names: primary, then fallbacks
    route              TEXT NOT NULL,
    failure_threshold  BIGINT NOT NULL,
    recovery_seconds   BIGINT NOT NULL,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    -- hex SHA-256 of the whole key; the key itself is shown once and never stored
    key_hash        TEXT NOT NULL UNIQUE,
    last4           TEXT NOT NULL,
    -- JSON list of logical model names; empty means all
    allowed_models  TEXT NOT NULL,
    expires_at      BIGINT,
    revoked         BIGINT NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)),
    last_used_at    BIGINT,
    created_at      BIGINT NOT NULL
);

CREATE TABLE prices (
    kind                TEXT NOT NULL,
    model               TEXT NOT NULL,
    -- micro-dollars per million tokens
    input_per_mtok      BIGINT NOT NULL,
    output_per_mtok     BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    PRIMARY KEY (kind, model)
);

CREATE TABLE audit_log (
    id           TEXT PRIMARY KEY,
    at           BIGINT NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    entity_kind  TEXT NOT NULL,
    entity_name  TEXT NOT NULL,
    -- JSON with secrets redacted; NULL when the entity did not exist before / after
    before_json  TEXT,
    after_json   TEXT
);
CREATE INDEX audit_log_at ON audit_log (at);

-- Seed list prices, standard tier without batch or cache discounts, taken from the providers'
-- public pricing pages (openai.com/api/pricing, anthropic.com/pricing, ai.google.dev/pricing,
-- cohere.com/pricing, mistral.ai/pricing, Azure OpenAI global deployments) in mid-2025; the same
-- list as providers::prices::SEED_PRICES, which a test keeps in step. Editable in the dashboard.
INSERT INTO prices (kind, model, input_per_mtok, output_per_mtok, updated_at) VALUES
    ('openai', 'gpt-5', 1250000, 10000000, 0),
    ('openai', 'gpt-5-mini', 250000, 2000000, 0),
    ('openai', 'gpt-5-nano', 50000, 400000, 0),
    ('openai', 'gpt-4.1', 2000000, 8000000, 0),
    ('openai', 'gpt-4.1-mini', 400000, 1600000, 0),
    ('openai', 'gpt-4.1-nano', 100000, 400000, 0),
    ('openai', 'gpt-4o', 2500000, 10000000, 0),
    ('openai', 'gpt-4o-mini', 150000, 600000, 0),
    ('openai', 'o3', 2000000, 8000000, 0),
    ('openai', 'o4-mini', 1100000, 4400000, 0),
    ('azure', 'gpt-4.1', 2000000, 8000000, 0),
    ('azure', 'gpt-4.1-mini', 400000, 1600000, 0),
    ('azure', 'gpt-4o', 2500000, 10000000, 0),
    ('azure', 'gpt-4o-mini', 150000, 600000, 0),
    ('azure', 'o4-mini', 1100000, 4400000, 0),
    ('anthropic', 'claude-opus-4-1', 15000000, 75000000, 0),
    ('anthropic', 'claude-opus-4', 15000000, 75000000, 0),
    ('anthropic', 'claude-sonnet-4-5', 3000000, 15000000, 0),
    ('anthropic', 'claude-sonnet-4', 3000000, 15000000, 0),
    ('anthropic', 'claude-haiku-4-5', 1000000, 5000000, 0),
    ('anthropic', 'claude-3-5-haiku', 800000, 4000000, 0),
    ('google', 'gemini-2.5-pro', 1250000, 10000000, 0),
    ('google', 'gemini-2.5-flash', 300000, 2500000, 0),
    ('google', 'gemini-2.5-flash-lite', 100000, 400000, 0),
    ('google', 'gemini-2.0-flash', 100000, 400000, 0),
    ('cohere', 'command-a-03-2025', 2500000, 10000000, 0),
    ('cohere', 'command-r-plus-08-2024', 2500000, 10000000, 0),
    ('cohere', 'command-r-08-2024', 150000, 600000, 0),
    ('cohere', 'command-r7b-12-2024', 37500, 150000, 0),
    ('mistral', 'mistral-large-latest', 2000000, 6000000, 0),
    ('mistral', 'mistral-medium-latest', 400000, 2000000, 0),
    ('mistral', 'mistral-small-latest', 100000, 300000, 0),
    ('mistral', 'codestral-latest', 300000, 900000, 0),
    ('mistral', 'ministral-8b-latest', 100000, 100000, 0);
