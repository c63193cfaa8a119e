-- Gateway key rotation with an overlap: after a rotation the key's previous secret keeps working
-- until previous_valid_until (Unix ms), so apps can move to the new one without an outage.
-- Additive and portable (one ADD COLUMN per statement); NULL means no previous secret.
ALTER TABLE api_keys ADD COLUMN previous_key_hash TEXT;
ALTER TABLE api_keys ADD COLUMN previous_valid_until BIGINT;
