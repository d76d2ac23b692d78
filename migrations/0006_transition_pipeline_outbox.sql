-- drivesd schema, version 6: one pipeline of pending transitions for every kind of resource, and
-- the after-commit outbox.

-- Pending transitions of drives and servers (and the kinds to come) in one table: at most one per
-- (resource, operation), so a resource may have several where the state machine allows it. Each
-- row completes through the state machine at due_at (unix seconds), also after a restart. Keyed
-- by the resource, so a resource's rows are found (and deleted with it) through the primary key,
-- and a row costs two b-trees, as the per-resource tables it replaces did.
CREATE TABLE pending_transitions (
    resource_kind TEXT NOT NULL CHECK (resource_kind IN ('drive', 'server')),
    resource_seq  INTEGER NOT NULL,
    operation     TEXT NOT NULL CHECK (operation IN ('create', 'resize', 'clone', 'start', 'stop')),
    -- The status the resource is in while the transition runs; completion checks it still is.
    from_status   TEXT NOT NULL,
    due_at        REAL NOT NULL,
    -- JSON with what the completion applies, e.g. {"size": 5368709120} for a resize.
    payload       TEXT NOT NULL DEFAULT '{}',
    -- A clone's source drive and its job.
    source_seq    INTEGER REFERENCES drives(seq) ON DELETE SET NULL,
    job_seq       INTEGER REFERENCES jobs(seq) ON DELETE SET NULL,
    -- The resource's seq first: most key comparisons end on that integer.
    PRIMARY KEY (resource_seq, resource_kind, operation)
) WITHOUT ROWID;
CREATE INDEX pending_transitions_due ON pending_transitions(due_at);
CREATE INDEX pending_transitions_source ON pending_transitions(source_seq) WHERE source_seq IS NOT NULL;
CREATE INDEX pending_transitions_job ON pending_transitions(job_seq) WHERE job_seq IS NOT NULL;

-- What the previous release left pending (held ones included) carries over as it was.
INSERT INTO pending_transitions (resource_kind, resource_seq, operation, from_status, due_at, payload, source_seq, job_seq)
    SELECT 'drive', drive_seq, operation, from_status, due_at, payload, source_seq, job_seq
    FROM transitions;
INSERT INTO pending_transitions (resource_kind, resource_seq, operation, from_status, due_at)
    SELECT 'server', server_seq, operation, from_status, due_at
    FROM server_transitions;
DROP TABLE transitions;
DROP TABLE server_transitions;

-- A resource's transitions go with it (one table cannot cascade from two).
CREATE TRIGGER drives_forget_transitions AFTER DELETE ON drives BEGIN
    DELETE FROM pending_transitions WHERE resource_kind = 'drive' AND resource_seq = OLD.seq;
END;
CREATE TRIGGER servers_forget_transitions AFTER DELETE ON servers BEGIN
    DELETE FROM pending_transitions WHERE resource_kind = 'server' AND resource_seq = OLD.seq;
END;

-- Effects that must not run inside a transaction (removing content, publishing events): written
-- in the transaction of the change, carried out after its commit, deleted when done; what a crash
-- left here runs at the next start. Effects are idempotent.
CREATE TABLE outbox (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    effect     TEXT NOT NULL,
    payload    TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
