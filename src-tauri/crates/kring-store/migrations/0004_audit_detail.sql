-- What an action changed beyond its subject, e.g. whose role went from what
-- to what. Never patient data: user ids and role names only.
ALTER TABLE audit_log ADD COLUMN detail TEXT;
