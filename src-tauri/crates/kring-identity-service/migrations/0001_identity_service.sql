-- One schema for sqlite and Postgres: TEXT and BIGINT only, times in ms.
CREATE TABLE secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Identity-service tokens (account/register); only their sha256 is kept.
CREATE TABLE accounts (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE INDEX accounts_user ON accounts (user_id);

CREATE TABLE accepted_terms (
    user_id TEXT NOT NULL,
    url TEXT NOT NULL,
    PRIMARY KEY (user_id, url)
);

-- A validation session: the nonce the IdP must put in the ID token, and what
-- the token proved once it was submitted.
CREATE TABLE sessions (
    sid TEXT PRIMARY KEY,
    client_secret_hash TEXT NOT NULL,
    user_id TEXT NOT NULL,
    nonce TEXT NOT NULL,
    validated_json TEXT,
    validated_ms BIGINT,
    created_ms BIGINT NOT NULL
);

-- Every ID token ever submitted (sha256), so none is accepted twice.
CREATE TABLE seen_tokens (
    token_hash TEXT PRIMARY KEY,
    seen_ms BIGINT NOT NULL
);

-- uzi_nr and email are held by one MXID at a time; ura_nr and role_code by
-- every practitioner of the organisation or role.
CREATE TABLE bindings (
    medium TEXT NOT NULL,
    address TEXT NOT NULL,
    mxid TEXT NOT NULL,
    lookup_hash TEXT NOT NULL,
    bound_ms BIGINT NOT NULL,
    PRIMARY KEY (medium, address, mxid)
);
CREATE INDEX bindings_lookup ON bindings (lookup_hash);
CREATE INDEX bindings_mxid ON bindings (mxid);
