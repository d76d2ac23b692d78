-- Twin of SQLite migration 0013 (drive_relations): how many rows each drive has in each table of
-- its related rows (licenses, jobs, mounts, tags, snapshots), kept by triggers. A drive read
-- learns which related rows to fetch from one look-up here instead of five probes a drive.
-- Derived data: named states leave this table alone; the triggers follow what a load changes.

CREATE TABLE drive_relations (
    drive_seq BIGINT PRIMARY KEY REFERENCES drives(seq) ON DELETE CASCADE,
    licenses  BIGINT NOT NULL DEFAULT 0,
    jobs      BIGINT NOT NULL DEFAULT 0,
    mounts    BIGINT NOT NULL DEFAULT 0,
    tags      BIGINT NOT NULL DEFAULT 0,
    snapshots BIGINT NOT NULL DEFAULT 0
);

INSERT INTO drive_relations (drive_seq, licenses, jobs, mounts, tags, snapshots)
SELECT drive_seq, SUM(licenses), SUM(jobs), SUM(mounts), SUM(tags), SUM(snapshots) FROM (
    SELECT drive_seq, 1 AS licenses, 0 AS jobs, 0 AS mounts, 0 AS tags, 0 AS snapshots FROM drive_licenses
    UNION ALL SELECT drive_seq, 0, 1, 0, 0, 0 FROM drive_jobs
    UNION ALL SELECT drive_seq, 0, 0, 1, 0, 0 FROM server_drives WHERE drive_seq IS NOT NULL
    UNION ALL SELECT d.seq, 0, 0, 0, 1, 0 FROM tag_resources t JOIN drives d ON d.uuid = t.res_uuid WHERE t.res_type = 'drives'
    UNION ALL SELECT drive_seq, 0, 0, 0, 0, 1 FROM snapshots
) AS related
WHERE drive_seq IN (SELECT seq FROM drives)
GROUP BY drive_seq;

-- One function moves a count: `drive_relate(seq, kind, +1 or -1)`, in static SQL (its plans are
-- prepared once a session): an increment inserts the drive's row or adds to it, a decrement
-- only updates (the drive may be going, its row with it).
CREATE FUNCTION drive_relate(seq BIGINT, kind TEXT, delta BIGINT) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF seq IS NULL THEN
        RETURN;
    END IF;
    IF delta > 0 THEN
        INSERT INTO drive_relations AS r (drive_seq, licenses, jobs, mounts, tags, snapshots)
        VALUES (
            seq,
            CASE WHEN kind = 'licenses' THEN delta ELSE 0 END,
            CASE WHEN kind = 'jobs' THEN delta ELSE 0 END,
            CASE WHEN kind = 'mounts' THEN delta ELSE 0 END,
            CASE WHEN kind = 'tags' THEN delta ELSE 0 END,
            CASE WHEN kind = 'snapshots' THEN delta ELSE 0 END)
        ON CONFLICT (drive_seq) DO UPDATE SET
            licenses = r.licenses + EXCLUDED.licenses,
            jobs = r.jobs + EXCLUDED.jobs,
            mounts = r.mounts + EXCLUDED.mounts,
            tags = r.tags + EXCLUDED.tags,
            snapshots = r.snapshots + EXCLUDED.snapshots;
    ELSE
        UPDATE drive_relations SET
            licenses = licenses + CASE WHEN kind = 'licenses' THEN delta ELSE 0 END,
            jobs = jobs + CASE WHEN kind = 'jobs' THEN delta ELSE 0 END,
            mounts = mounts + CASE WHEN kind = 'mounts' THEN delta ELSE 0 END,
            tags = tags + CASE WHEN kind = 'tags' THEN delta ELSE 0 END,
            snapshots = snapshots + CASE WHEN kind = 'snapshots' THEN delta ELSE 0 END
        WHERE drive_seq = seq;
    END IF;
END;
$$;

-- The four tables that name a drive by `drive_seq` share one trigger function; the trigger's
-- argument is the kind of row the table holds. PL/pgSQL prepares it for each table it runs on.
CREATE FUNCTION drive_link_relate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        PERFORM drive_relate(OLD.drive_seq, TG_ARGV[0], -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM drive_relate(NEW.drive_seq, TG_ARGV[0], 1);
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER drive_licenses_relate AFTER INSERT OR DELETE ON drive_licenses
    FOR EACH ROW EXECUTE FUNCTION drive_link_relate('licenses');
CREATE TRIGGER drive_licenses_rerelate AFTER UPDATE OF drive_seq ON drive_licenses
    FOR EACH ROW WHEN (OLD.drive_seq IS DISTINCT FROM NEW.drive_seq) EXECUTE FUNCTION drive_link_relate('licenses');
CREATE TRIGGER drive_jobs_relate AFTER INSERT OR DELETE ON drive_jobs
    FOR EACH ROW EXECUTE FUNCTION drive_link_relate('jobs');
CREATE TRIGGER drive_jobs_rerelate AFTER UPDATE OF drive_seq ON drive_jobs
    FOR EACH ROW WHEN (OLD.drive_seq IS DISTINCT FROM NEW.drive_seq) EXECUTE FUNCTION drive_link_relate('jobs');
CREATE TRIGGER server_drives_relate AFTER INSERT OR DELETE ON server_drives
    FOR EACH ROW EXECUTE FUNCTION drive_link_relate('mounts');
CREATE TRIGGER server_drives_rerelate AFTER UPDATE OF drive_seq ON server_drives
    FOR EACH ROW WHEN (OLD.drive_seq IS DISTINCT FROM NEW.drive_seq) EXECUTE FUNCTION drive_link_relate('mounts');
CREATE TRIGGER snapshots_relate AFTER INSERT OR DELETE ON snapshots
    FOR EACH ROW EXECUTE FUNCTION drive_link_relate('snapshots');
CREATE TRIGGER snapshots_rerelate AFTER UPDATE OF drive_seq ON snapshots
    FOR EACH ROW WHEN (OLD.drive_seq IS DISTINCT FROM NEW.drive_seq) EXECUTE FUNCTION drive_link_relate('snapshots');

-- Tags name their resources by uuid; a drive's is looked up (a deleted drive's tags go with it).
CREATE FUNCTION tag_resources_relate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') AND OLD.res_type = 'drives' THEN
        PERFORM drive_relate((SELECT seq FROM drives WHERE uuid = OLD.res_uuid), 'tags', -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.res_type = 'drives' THEN
        PERFORM drive_relate((SELECT seq FROM drives WHERE uuid = NEW.res_uuid), 'tags', 1);
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER tag_resources_relate AFTER INSERT OR DELETE ON tag_resources
    FOR EACH ROW EXECUTE FUNCTION tag_resources_relate();
CREATE TRIGGER tag_resources_rerelate AFTER UPDATE OF res_type, res_uuid ON tag_resources
    FOR EACH ROW WHEN (OLD.res_type IS DISTINCT FROM NEW.res_type OR OLD.res_uuid IS DISTINCT FROM NEW.res_uuid)
    EXECUTE FUNCTION tag_resources_relate();
