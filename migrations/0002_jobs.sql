-- drivesd schema, version 2: jobs (drive clones) and the drives they reference.

CREATE TABLE jobs (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid             TEXT NOT NULL UNIQUE,
    owner            TEXT NOT NULL REFERENCES users(uuid) ON DELETE CASCADE,
    operation        TEXT NOT NULL,                      -- drive_clone
    state            TEXT NOT NULL CHECK (state IN ('started', 'success', 'failed')),
    resources        TEXT NOT NULL DEFAULT '[]',         -- JSON list of resource URIs
    started_at       REAL NOT NULL,                      -- unix seconds: progress runs from here...
    due_at           REAL NOT NULL,                      -- ...to here
    created          TEXT NOT NULL,                      -- ISO-8601, as rendered
    last_modified    TEXT NOT NULL,
    last_modified_at REAL NOT NULL                       -- unix seconds: ordering and purge
);
CREATE INDEX jobs_owner_modified ON jobs(owner, last_modified_at);
CREATE INDEX jobs_state_modified ON jobs(state, last_modified_at);

-- The `jobs` refs of a drive: a clone's job is referenced from the source and the new drive.
CREATE TABLE drive_jobs (
    drive_seq INTEGER NOT NULL REFERENCES drives(seq) ON DELETE CASCADE,
    job_seq   INTEGER NOT NULL REFERENCES jobs(seq) ON DELETE CASCADE,
    PRIMARY KEY (drive_seq, job_seq)
) WITHOUT ROWID;
CREATE INDEX drive_jobs_job ON drive_jobs(job_seq);

-- A clone's transition (on the new drive) knows its source and its job.
ALTER TABLE transitions ADD COLUMN source_seq INTEGER REFERENCES drives(seq) ON DELETE SET NULL;
ALTER TABLE transitions ADD COLUMN job_seq INTEGER REFERENCES jobs(seq) ON DELETE SET NULL;
CREATE INDEX transitions_source ON transitions(source_seq) WHERE source_seq IS NOT NULL;
