-- Kring's own database: what Kring needs beyond the Matrix SDK's stores.
-- No message content and no patient identifiers in cleartext logs here.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

-- Who did what, when (UC8). `subject` is a Matrix id or a room id, never a BSN.
CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms     INTEGER NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    subject   TEXT
);
CREATE INDEX audit_log_at ON audit_log(at_ms);
