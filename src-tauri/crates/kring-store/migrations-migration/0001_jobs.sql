-- The vendor-migration job's own database (UC4): one row per move of a
-- practitioner's account, one per room of the old account, so a run that
-- stopped anywhere resumes where it was.
CREATE TABLE migration_jobs (
    old_user_id TEXT NOT NULL,
    new_user_id TEXT NOT NULL,
    -- planned | inviting | waiting | deactivated | refused
    state TEXT NOT NULL,
    detail TEXT,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    -- When the leads were told that invites stayed unanswered past the timeout.
    leads_told_ms INTEGER,
    PRIMARY KEY (old_user_id, new_user_id)
);

CREATE TABLE migration_rooms (
    old_user_id TEXT NOT NULL,
    new_user_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    -- The care team the room belongs to; NULL for the care team's space itself.
    space_id TEXT,
    level INTEGER NOT NULL,
    -- planned | level_set | invited | accepted | failed
    state TEXT NOT NULL,
    error TEXT,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (old_user_id, new_user_id, room_id)
);
