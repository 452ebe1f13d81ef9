-- E-mail validation: the session's medium and address, and the sha256 of the
-- token that was mailed (the IdP medium leaves these empty).
ALTER TABLE sessions ADD COLUMN medium TEXT;
ALTER TABLE sessions ADD COLUMN address TEXT;
ALTER TABLE sessions ADD COLUMN token_hash TEXT;
ALTER TABLE sessions ADD COLUMN send_attempt BIGINT;
CREATE INDEX sessions_request ON sessions (client_secret_hash, address);

-- A third-party invite the homeserver stored (/store-invite), kept until the
-- address is bound and the inviter's homeserver has taken it (/3pid/onbind).
-- The ephemeral key pair is the invite's own (/sign-ed25519, /pubkey/ephemeral/isvalid).
CREATE TABLE invites (
    token TEXT PRIMARY KEY,
    medium TEXT NOT NULL,
    address TEXT NOT NULL,
    room_id TEXT NOT NULL,
    sender TEXT NOT NULL,
    ephemeral_public_key TEXT NOT NULL,
    ephemeral_private_key TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    delivered_ms BIGINT
);
CREATE INDEX invites_address ON invites (medium, address);
CREATE INDEX invites_ephemeral ON invites (ephemeral_public_key);
