-- losslens PostgreSQL store, schema 2: API tokens of `losslens server` (docs/team.md).
-- Only the SHA-256 of a token's secret is kept; the secret is printed once, at creation.
-- A token belongs to one project (by name, so a token may be made before the first run) and
-- has one scope: 'read' (GET) or 'write' (also ingest). Revoking sets revoked_at; rows stay.

CREATE TABLE api_tokens (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project     text NOT NULL,
    scope       text NOT NULL CHECK (scope IN ('read','write')),
    token_hash  text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    name        text,
    created_at  float8 NOT NULL,
    revoked_at  float8
);
CREATE INDEX api_tokens_project ON api_tokens (project);
