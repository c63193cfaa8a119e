-- Team members who sign in through OpenID Connect. `source` says how an account signs in; an
-- `oidc` account has no usable password. It is found again by the identity provider's issuer
-- and subject, which stay the same when the person's name or email changes there.
ALTER TABLE users ADD COLUMN source TEXT NOT NULL DEFAULT 'password' CHECK (source IN ('password', 'oidc'));
ALTER TABLE users ADD COLUMN external_issuer TEXT;
ALTER TABLE users ADD COLUMN external_subject TEXT;
CREATE UNIQUE INDEX users_external_identity ON users (external_issuer, external_subject);
