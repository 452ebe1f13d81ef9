-- The NEN 7513 audit trail: every access to a client's data on this device.
-- Append-only (the triggers refuse UPDATE and DELETE), and each row carries
-- the sha256 of the row before it within its own hash, so an edit made around
-- the triggers (by someone with the file) shows when the chain is verified.
-- Never message text, a client's name or BSN: `client_ref` is the care team's
-- space id, which names the client only together with the sealed client link.
CREATE TABLE audit_trail (
    seq         INTEGER PRIMARY KEY,   -- 1, 2, 3, ... without gaps
    event_id    TEXT NOT NULL UNIQUE,
    action      TEXT NOT NULL,         -- C, R, U, D or E (FHIR AuditEvent.action)
    kind        TEXT NOT NULL,         -- what happened: open_conversation, send, set_role, ...
    recorded_ms INTEGER NOT NULL,
    outcome     INTEGER NOT NULL,      -- 0 success, 4 minor failure, 8 serious failure
    user_id     TEXT NOT NULL,
    user_uzi    TEXT,
    user_role   TEXT,                  -- UZI role code
    client_ref  TEXT,
    object      TEXT,                  -- room, event or file
    detail      TEXT,                  -- user ids and role names only
    device      TEXT,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
CREATE INDEX audit_trail_client ON audit_trail(client_ref);
CREATE TRIGGER audit_trail_append_only_update BEFORE UPDATE ON audit_trail
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER audit_trail_append_only_delete BEFORE DELETE ON audit_trail
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
-- audit_log (before 0008) stays as it was, unchained; nothing writes to it now.
