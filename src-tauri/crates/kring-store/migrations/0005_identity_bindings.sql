-- Which care identity stands behind a Matrix ID (001 §3: UZI, URA, role codes
-- and the directory resources), for this device's own account and for others
-- looked up later. Professional identifiers only: no patient data.
CREATE TABLE identity_bindings (
    user_id TEXT PRIMARY KEY NOT NULL,
    uzi TEXT NOT NULL,
    ura TEXT NOT NULL,
    role_codes TEXT NOT NULL,           -- JSON array of strings
    practitioner_url TEXT,
    practitioner_role_url TEXT,
    organisation TEXT,
    updated_ms INTEGER NOT NULL
);
