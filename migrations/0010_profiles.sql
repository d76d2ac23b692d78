-- drivesd schema, version 10: the account's profile (`/profile/`). `clone_naming` names clones
-- made without a name (reference §3.9.1); the other writable fields are stored as one JSON object
-- and echoed. No row: the defaults (clone naming NONE).
CREATE TABLE profiles (
    user_uuid    TEXT PRIMARY KEY NOT NULL REFERENCES users(uuid) ON DELETE CASCADE,
    clone_naming TEXT NOT NULL DEFAULT 'NONE' CHECK (clone_naming IN ('NONE', 'COUNTER', 'DATE', 'TIMESTAMP')),
    fields       TEXT NOT NULL DEFAULT '{}'
) WITHOUT ROWID;
