-- What the directories said about the practitioners in this user's care
-- networks (UC1), so the network shows at once and survives a directory
-- being down. Professional data only. `checked_ms` is when that person's
-- directory last answered; `stale` is set when a refresh could not reach it.
CREATE TABLE directory_cache (
    user_id TEXT PRIMARY KEY NOT NULL,
    directory TEXT NOT NULL,
    details TEXT NOT NULL,
    checked_ms INTEGER NOT NULL,
    stale INTEGER NOT NULL DEFAULT 0
);

-- Per directory: the server time of the last complete refresh, for the
-- next `_lastUpdated=gt…` query.
CREATE TABLE directory_sync (
    directory TEXT PRIMARY KEY NOT NULL,
    since TEXT NOT NULL
);
