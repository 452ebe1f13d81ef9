-- Which identity service vouched for a binding (its base URL): the UZI, URA
-- and role codes were bound there after the organisation IdP signed them.
-- NULL: only the person's own profile says so (a hint, never trusted over it).
ALTER TABLE identity_bindings ADD COLUMN verified_by TEXT;
