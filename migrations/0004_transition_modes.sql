-- drivesd schema, version 4: how each operation's transitions complete, set through the admin
-- API (`PUT /_drivesd/transitions/{operation}`) and kept across restarts.

CREATE TABLE transition_modes (
    operation TEXT PRIMARY KEY NOT NULL CHECK (operation IN ('create', 'resize', 'clone', 'start', 'stop')),
    mode      TEXT NOT NULL CHECK (mode IN ('immediate', 'time', 'manual')),
    seconds   REAL                              -- with mode 'time'
) WITHOUT ROWID;
