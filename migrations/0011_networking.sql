-- drivesd schema, version 11: IP addresses and VLANs, the subscription resources a tag and a
-- server's NICs point at (`/ips/`, `/vlans/`). drivesd seeds them per account (`networking.*` in
-- the configuration, one of each by default); the API reads them and edits their `meta` and
-- `tags`. An IP's id is its address; the address is worked out from `seq`, so addresses never
-- repeat across accounts.
CREATE TABLE ips (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    address      TEXT NOT NULL UNIQUE,
    owner        TEXT NOT NULL REFERENCES users(uuid) ON DELETE CASCADE,
    netmask      INTEGER NOT NULL,
    gateway      TEXT NOT NULL,
    nameservers  TEXT NOT NULL DEFAULT '[]',     -- JSON list of addresses
    meta         TEXT NOT NULL DEFAULT '{}',     -- JSON object of strings
    created_at   TEXT NOT NULL
);
CREATE INDEX ips_owner_seq ON ips(owner, seq);

CREATE TABLE vlans (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid         TEXT NOT NULL UNIQUE,
    owner        TEXT NOT NULL REFERENCES users(uuid) ON DELETE CASCADE,
    meta         TEXT NOT NULL DEFAULT '{}',
    created_at   TEXT NOT NULL
);
CREATE INDEX vlans_owner_seq ON vlans(owner, seq);

-- How many of each an account holds: written by `serve` from its configuration, read when an
-- account is created (and at start, to top every account up).
CREATE TABLE network_allotment (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    ips   INTEGER NOT NULL CHECK (ips >= 0),
    vlans INTEGER NOT NULL CHECK (vlans >= 0)
);
INSERT INTO network_allotment (id, ips, vlans) VALUES (1, 1, 1);

-- Tags hold IPs and VLANs too: the CHECK widens, so the table is rebuilt, and the triggers that
-- name it go first and come back after (as in version 8).
DROP TRIGGER drives_untag;
DROP TRIGGER servers_untag;
DROP TRIGGER snapshots_untag;
DROP TRIGGER tag_resources_event_insert;
DROP TRIGGER tag_resources_event_delete;
CREATE TABLE tag_resources_new (
    tag_seq  INTEGER NOT NULL REFERENCES tags(seq) ON DELETE CASCADE,
    res_type TEXT NOT NULL CHECK (res_type IN ('drives', 'servers', 'snapshots', 'ips', 'vlans')),
    res_uuid TEXT NOT NULL,
    UNIQUE (tag_seq, res_uuid)
);
INSERT INTO tag_resources_new (tag_seq, res_type, res_uuid) SELECT tag_seq, res_type, res_uuid FROM tag_resources ORDER BY rowid;
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
CREATE TRIGGER ips_untag AFTER DELETE ON ips BEGIN
    DELETE FROM tag_resources WHERE res_uuid = OLD.address;
END;
CREATE TRIGGER vlans_untag AFTER DELETE ON vlans BEGIN
    DELETE FROM tag_resources WHERE res_uuid = OLD.uuid;
END;
-- Change events: the tag's frame, and the tagged resource's where it has frames (IPs and VLANs
-- have none yet).
CREATE TRIGGER tag_resources_event_insert AFTER INSERT ON tag_resources WHEN (SELECT count FROM event_listeners WHERE id = 1) > 0 BEGIN
    INSERT INTO change_events (owner, resource_type, uuid) SELECT owner, 'tags', uuid FROM tags WHERE seq = NEW.tag_seq;
    INSERT INTO change_events (owner, resource_type, uuid)
        SELECT owner, NEW.res_type, uuid FROM drives WHERE NEW.res_type = 'drives' AND uuid = NEW.res_uuid
        UNION ALL SELECT owner, NEW.res_type, uuid FROM servers WHERE NEW.res_type = 'servers' AND uuid = NEW.res_uuid
        UNION ALL SELECT owner, NEW.res_type, uuid FROM snapshots WHERE NEW.res_type = 'snapshots' AND uuid = NEW.res_uuid;
END;
CREATE TRIGGER tag_resources_event_delete AFTER DELETE ON tag_resources WHEN (SELECT count FROM event_listeners WHERE id = 1) > 0 BEGIN
    INSERT INTO change_events (owner, resource_type, uuid) SELECT owner, 'tags', uuid FROM tags WHERE seq = OLD.tag_seq;
    INSERT INTO change_events (owner, resource_type, uuid)
        SELECT owner, OLD.res_type, uuid FROM drives WHERE OLD.res_type = 'drives' AND uuid = OLD.res_uuid
        UNION ALL SELECT owner, OLD.res_type, uuid FROM servers WHERE OLD.res_type = 'servers' AND uuid = OLD.res_uuid
        UNION ALL SELECT owner, OLD.res_type, uuid FROM snapshots WHERE OLD.res_type = 'snapshots' AND uuid = OLD.res_uuid;
END;
