-- Which care-team space belongs to which client. The client's identity never
-- travels in Matrix room state (001 §4): it arrives in the invite, and each
-- Kring keeps the association here, on this device only.
CREATE TABLE client_spaces (
    space_id     TEXT PRIMARY KEY NOT NULL,
    display_name TEXT NOT NULL,
    pseudo_bsn   TEXT NOT NULL,
    linked_at_ms INTEGER NOT NULL
);
