-- 0008: snapshots (point-in-time copies of drives: decision 16, contract §1).
--
-- A snapshot points at the content image its drive had when it was taken (images are immutable
-- once sealed, so this costs one reference, no data), and records the drive's size then: a clone
-- of the snapshot gets exactly those bytes at that size.
CREATE TABLE snapshots (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid          TEXT NOT NULL UNIQUE,
    owner         TEXT NOT NULL REFERENCES users(uuid) ON DELETE CASCADE,
    -- Deleting a drive deletes its snapshots, in any status (S7).
    drive_seq     INTEGER NOT NULL REFERENCES drives(seq) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    meta          TEXT NOT NULL DEFAULT '{}',
    status        TEXT NOT NULL CHECK (status IN ('creating', 'available')),
    -- The drive's size, media and storage type when the snapshot was taken.
    size          INTEGER NOT NULL CHECK (size > 0),
    media         TEXT NOT NULL CHECK (media IN ('disk', 'cdrom')),
    storage_type  TEXT NOT NULL,
    content_image INTEGER,
    -- `YYYY-MM-DD HH:MM:SS.ffffff+00:00`, with the space (S12); never changes.
    timestamp     TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX snapshots_drive ON snapshots(drive_seq, seq);
CREATE INDEX snapshots_owner ON snapshots(owner, seq);

CREATE TRIGGER snapshots_content_insert AFTER INSERT ON snapshots WHEN NEW.content_image IS NOT NULL
BEGIN
    UPDATE content_images SET refs = refs + 1 WHERE id = NEW.content_image;
END;
CREATE TRIGGER snapshots_content_delete AFTER DELETE ON snapshots WHEN OLD.content_image IS NOT NULL
BEGIN
    UPDATE content_images SET refs = refs - 1 WHERE id = OLD.content_image;
END;

-- Tags hold snapshots too (S14): the CHECK widens, so the table is rebuilt. Triggers that name a
-- rebuilt table go first and come back after (a rename checks every trigger's references).
DROP TRIGGER drives_untag;
DROP TRIGGER servers_untag;
DROP TRIGGER drives_forget_transitions;
DROP TRIGGER servers_forget_transitions;
CREATE TABLE tag_resources_new (
    tag_seq  INTEGER NOT NULL REFERENCES tags(seq) ON DELETE CASCADE,
    res_type TEXT NOT NULL CHECK (res_type IN ('drives', 'servers', 'snapshots')),
    res_uuid TEXT NOT NULL,
    UNIQUE (tag_seq, res_uuid)
);
INSERT INTO tag_resources_new (tag_seq, res_type, res_uuid) SELECT tag_seq, res_type, res_uuid FROM tag_resources;
DROP TABLE tag_resources;
ALTER TABLE tag_resources_new RENAME TO tag_resources;
CREATE INDEX tag_resources_res ON tag_resources(res_uuid);
CREATE TRIGGER drives_untag AFTER DELETE ON drives BEGIN
    DELETE FROM tag_resources WHERE res_uuid = OLD.uuid;
END;
CREATE TRIGGER servers_untag AFTER DELETE ON servers BEGIN
    DELETE FROM tag_resources WHERE res_uuid = OLD.uuid;
END;
CREATE TRIGGER snapshots_untag AFTER DELETE ON snapshots BEGIN
    DELETE FROM tag_resources WHERE res_uuid = OLD.uuid;
END;

-- The snapshot operation gets a transition mode and pending transitions (`creating` →
-- `available` through the one pipeline): both CHECKs widen.
CREATE TABLE transition_modes_new (
    operation TEXT PRIMARY KEY NOT NULL CHECK (operation IN ('create', 'resize', 'clone', 'start', 'stop', 'snapshot')),
    mode      TEXT NOT NULL CHECK (mode IN ('immediate', 'time', 'manual')),
    seconds   REAL
) WITHOUT ROWID;
INSERT INTO transition_modes_new (operation, mode, seconds) SELECT operation, mode, seconds FROM transition_modes;
DROP TABLE transition_modes;
ALTER TABLE transition_modes_new RENAME TO transition_modes;

CREATE TABLE pending_transitions_new (
    resource_kind TEXT NOT NULL CHECK (resource_kind IN ('drive', 'server', 'snapshot')),
    resource_seq  INTEGER NOT NULL,
    operation     TEXT NOT NULL CHECK (operation IN ('create', 'resize', 'clone', 'start', 'stop', 'snapshot')),
    from_status   TEXT NOT NULL,
    due_at        REAL NOT NULL,
    payload       TEXT NOT NULL DEFAULT '{}',
    source_seq    INTEGER REFERENCES drives(seq) ON DELETE SET NULL,
    job_seq       INTEGER REFERENCES jobs(seq) ON DELETE SET NULL,
    PRIMARY KEY (resource_seq, resource_kind, operation)
) WITHOUT ROWID;
INSERT INTO pending_transitions_new
    SELECT resource_kind, resource_seq, operation, from_status, due_at, payload, source_seq, job_seq FROM pending_transitions;
DROP TABLE pending_transitions;
ALTER TABLE pending_transitions_new RENAME TO pending_transitions;
CREATE INDEX pending_transitions_due ON pending_transitions(due_at);
CREATE INDEX pending_transitions_source ON pending_transitions(source_seq) WHERE source_seq IS NOT NULL;
CREATE INDEX pending_transitions_job ON pending_transitions(job_seq) WHERE job_seq IS NOT NULL;
CREATE TRIGGER drives_forget_transitions AFTER DELETE ON drives BEGIN
    DELETE FROM pending_transitions WHERE resource_kind = 'drive' AND resource_seq = OLD.seq;
END;
CREATE TRIGGER servers_forget_transitions AFTER DELETE ON servers BEGIN
    DELETE FROM pending_transitions WHERE resource_kind = 'server' AND resource_seq = OLD.seq;
END;
CREATE TRIGGER snapshots_forget_transitions AFTER DELETE ON snapshots BEGIN
    DELETE FROM pending_transitions WHERE resource_kind = 'snapshot' AND resource_seq = OLD.seq;
END;
