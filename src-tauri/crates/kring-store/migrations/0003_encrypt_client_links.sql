-- Client links hold patient data (name, pseudo-BSN): from now on one
-- encrypted blob per space, sealed with the StoreCipher whose key is kept
-- in the OS keychain. No release has shipped the plain table.
DROP TABLE client_spaces;

CREATE TABLE client_links (
    space_id     TEXT PRIMARY KEY NOT NULL,
    client       BLOB NOT NULL,
    linked_at_ms INTEGER NOT NULL
);
