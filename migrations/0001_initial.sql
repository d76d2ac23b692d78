-- drivesd schema, version 1: users, the license catalogue, drives and their licenses, and the
-- pending status transitions the background worker completes.

CREATE TABLE users (
    uuid          TEXT PRIMARY KEY NOT NULL,
    email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
    -- PBKDF2-HMAC-SHA256 of the password; never the password itself.
    password_hash BLOB NOT NULL,
    salt          BLOB NOT NULL,
    iterations    INTEGER NOT NULL,
    created_at    TEXT NOT NULL
);

CREATE TABLE licenses (
    id          INTEGER PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL UNIQUE,
    long_name   TEXT NOT NULL DEFAULT '',
    type        TEXT NOT NULL DEFAULT 'instance' CHECK (type IN ('install', 'instance', 'stub')),
    user_metric TEXT NOT NULL DEFAULT '',
    burstable   INTEGER NOT NULL DEFAULT 0 CHECK (burstable IN (0, 1))
);

-- The catalogue as the real API lists it (dump licenses_list).
INSERT INTO licenses (id, name, long_name, type, user_metric, burstable) VALUES
    (12, 'msft_p73_04837_core', 'Windows Server', 'instance', 'smp', 1),
    (13, 'msft_7jq_00341', 'SQL Server Enterprise Edition', 'instance', 'smp', 0),
    (14, 'msft_7nq_00302', 'SQL Server Standard Edition', 'instance', 'smp', 0),
    (15, 'msft_tfa_00523', 'SQL Server Web', 'instance', 'smp', 0);

CREATE TABLE drives (
    -- Creation order: the default list order, and the key of related rows.
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid             TEXT NOT NULL UNIQUE,
    owner            TEXT NOT NULL REFERENCES users(uuid) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    size             INTEGER NOT NULL CHECK (size > 0),
    media            TEXT NOT NULL CHECK (media IN ('disk', 'cdrom')),
    storage_type     TEXT NOT NULL,
    status           TEXT NOT NULL,
    allow_multimount INTEGER NOT NULL DEFAULT 0 CHECK (allow_multimount IN (0, 1)),
    affinities       TEXT NOT NULL DEFAULT '[]',  -- JSON list of strings
    meta             TEXT NOT NULL DEFAULT '{}',  -- JSON object of strings
    iops             INTEGER,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX drives_owner_seq ON drives(owner, seq);
CREATE INDEX drives_owner_name ON drives(owner, name);
CREATE INDEX drives_status ON drives(status);

CREATE TABLE drive_licenses (
    drive_seq  INTEGER NOT NULL REFERENCES drives(seq) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    license_id INTEGER NOT NULL REFERENCES licenses(id),
    amount     INTEGER NOT NULL DEFAULT 1 CHECK (amount > 0),
    PRIMARY KEY (drive_seq, position)
) WITHOUT ROWID;

-- A drive in a transient status has exactly one row here: the worker completes it at due_at
-- (unix seconds), also after a restart.
CREATE TABLE transitions (
    drive_seq   INTEGER PRIMARY KEY NOT NULL REFERENCES drives(seq) ON DELETE CASCADE,
    operation   TEXT NOT NULL,
    from_status TEXT NOT NULL,
    due_at      REAL NOT NULL,
    -- JSON with what the completion applies, e.g. {"size": 5368709120} for a resize.
    payload     TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX transitions_due ON transitions(due_at);
