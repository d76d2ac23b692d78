-- drivesd schema, version 13: how many rows each drive has in each table of its related rows
-- (licenses, jobs, mounts, tags, snapshots), kept by triggers. A drive read (one drive, or a page
-- of them) then learns which related rows to fetch from one look-up in this table, instead of
-- five probes into five tables a drive (issue 17: those probes were a seventh of a page's time).
-- A drive without related rows usually has no row here; a count that went back to 0 stays as 0.
-- Derived data: named states leave this table alone, and the triggers follow what a load changes.

CREATE TABLE drive_relations (
    drive_seq INTEGER PRIMARY KEY REFERENCES drives(seq) ON DELETE CASCADE,
    licenses  INTEGER NOT NULL DEFAULT 0,
    jobs      INTEGER NOT NULL DEFAULT 0,
    mounts    INTEGER NOT NULL DEFAULT 0,
    tags      INTEGER NOT NULL DEFAULT 0,
    snapshots INTEGER NOT NULL DEFAULT 0
);

INSERT INTO drive_relations (drive_seq, licenses, jobs, mounts, tags, snapshots)
SELECT drive_seq, SUM(licenses), SUM(jobs), SUM(mounts), SUM(tags), SUM(snapshots) FROM (
    SELECT drive_seq, 1 AS licenses, 0 AS jobs, 0 AS mounts, 0 AS tags, 0 AS snapshots FROM drive_licenses
    UNION ALL SELECT drive_seq, 0, 1, 0, 0, 0 FROM drive_jobs
    UNION ALL SELECT drive_seq, 0, 0, 1, 0, 0 FROM server_drives WHERE drive_seq IS NOT NULL
    UNION ALL SELECT d.seq, 0, 0, 0, 1, 0 FROM tag_resources t JOIN drives d ON d.uuid = t.res_uuid WHERE t.res_type = 'drives'
    UNION ALL SELECT drive_seq, 0, 0, 0, 0, 1 FROM snapshots
)
WHERE drive_seq IN (SELECT seq FROM drives)
GROUP BY drive_seq;

-- Licenses.
CREATE TRIGGER drive_licenses_relate AFTER INSERT ON drive_licenses BEGIN
    INSERT INTO drive_relations (drive_seq, licenses) VALUES (NEW.drive_seq, 1)
        ON CONFLICT (drive_seq) DO UPDATE SET licenses = licenses + 1;
END;
CREATE TRIGGER drive_licenses_unrelate AFTER DELETE ON drive_licenses BEGIN
    UPDATE drive_relations SET licenses = licenses - 1 WHERE drive_seq = OLD.drive_seq;
END;
CREATE TRIGGER drive_licenses_rerelate AFTER UPDATE OF drive_seq ON drive_licenses
WHEN OLD.drive_seq IS NOT NEW.drive_seq BEGIN
    UPDATE drive_relations SET licenses = licenses - 1 WHERE drive_seq = OLD.drive_seq;
    INSERT INTO drive_relations (drive_seq, licenses) VALUES (NEW.drive_seq, 1)
        ON CONFLICT (drive_seq) DO UPDATE SET licenses = licenses + 1;
END;

-- Jobs.
CREATE TRIGGER drive_jobs_relate AFTER INSERT ON drive_jobs BEGIN
    INSERT INTO drive_relations (drive_seq, jobs) VALUES (NEW.drive_seq, 1)
        ON CONFLICT (drive_seq) DO UPDATE SET jobs = jobs + 1;
END;
CREATE TRIGGER drive_jobs_unrelate AFTER DELETE ON drive_jobs BEGIN
    UPDATE drive_relations SET jobs = jobs - 1 WHERE drive_seq = OLD.drive_seq;
END;
CREATE TRIGGER drive_jobs_rerelate AFTER UPDATE OF drive_seq ON drive_jobs
WHEN OLD.drive_seq IS NOT NEW.drive_seq BEGIN
    UPDATE drive_relations SET jobs = jobs - 1 WHERE drive_seq = OLD.drive_seq;
    INSERT INTO drive_relations (drive_seq, jobs) VALUES (NEW.drive_seq, 1)
        ON CONFLICT (drive_seq) DO UPDATE SET jobs = jobs + 1;
END;

-- Mounts (a server's library drive has no drive_seq: nothing to count).
CREATE TRIGGER server_drives_relate AFTER INSERT ON server_drives WHEN NEW.drive_seq IS NOT NULL BEGIN
    INSERT INTO drive_relations (drive_seq, mounts) VALUES (NEW.drive_seq, 1)
        ON CONFLICT (drive_seq) DO UPDATE SET mounts = mounts + 1;
END;
CREATE TRIGGER server_drives_unrelate AFTER DELETE ON server_drives WHEN OLD.drive_seq IS NOT NULL BEGIN
    UPDATE drive_relations SET mounts = mounts - 1 WHERE drive_seq = OLD.drive_seq;
END;
CREATE TRIGGER server_drives_rerelate AFTER UPDATE OF drive_seq ON server_drives
WHEN OLD.drive_seq IS NOT NEW.drive_seq BEGIN
    UPDATE drive_relations SET mounts = mounts - 1 WHERE OLD.drive_seq IS NOT NULL AND drive_seq = OLD.drive_seq;
    INSERT INTO drive_relations (drive_seq, mounts) SELECT NEW.drive_seq, 1 WHERE NEW.drive_seq IS NOT NULL
        ON CONFLICT (drive_seq) DO UPDATE SET mounts = mounts + 1;
END;

-- Tags name their resources by uuid; a drive's is looked up (a deleted drive's tags go with it).
CREATE TRIGGER tag_resources_relate AFTER INSERT ON tag_resources WHEN NEW.res_type = 'drives' BEGIN
    INSERT INTO drive_relations (drive_seq, tags) SELECT seq, 1 FROM drives WHERE uuid = NEW.res_uuid
        ON CONFLICT (drive_seq) DO UPDATE SET tags = tags + 1;
END;
CREATE TRIGGER tag_resources_unrelate AFTER DELETE ON tag_resources WHEN OLD.res_type = 'drives' BEGIN
    UPDATE drive_relations SET tags = tags - 1 WHERE drive_seq = (SELECT seq FROM drives WHERE uuid = OLD.res_uuid);
END;
CREATE TRIGGER tag_resources_rerelate AFTER UPDATE OF res_type, res_uuid ON tag_resources
WHEN OLD.res_type IS NOT NEW.res_type OR OLD.res_uuid IS NOT NEW.res_uuid BEGIN
    UPDATE drive_relations SET tags = tags - 1
        WHERE OLD.res_type = 'drives' AND drive_seq = (SELECT seq FROM drives WHERE uuid = OLD.res_uuid);
    INSERT INTO drive_relations (drive_seq, tags) SELECT seq, 1 FROM drives WHERE NEW.res_type = 'drives' AND uuid = NEW.res_uuid
        ON CONFLICT (drive_seq) DO UPDATE SET tags = tags + 1;
END;

-- Snapshots.
CREATE TRIGGER snapshots_relate AFTER INSERT ON snapshots BEGIN
    INSERT INTO drive_relations (drive_seq, snapshots) VALUES (NEW.drive_seq, 1)
        ON CONFLICT (drive_seq) DO UPDATE SET snapshots = snapshots + 1;
END;
CREATE TRIGGER snapshots_unrelate AFTER DELETE ON snapshots BEGIN
    UPDATE drive_relations SET snapshots = snapshots - 1 WHERE drive_seq = OLD.drive_seq;
END;
CREATE TRIGGER snapshots_rerelate AFTER UPDATE OF drive_seq ON snapshots
WHEN OLD.drive_seq IS NOT NEW.drive_seq BEGIN
    UPDATE drive_relations SET snapshots = snapshots - 1 WHERE drive_seq = OLD.drive_seq;
    INSERT INTO drive_relations (drive_seq, snapshots) VALUES (NEW.drive_seq, 1)
        ON CONFLICT (drive_seq) DO UPDATE SET snapshots = snapshots + 1;
END;
