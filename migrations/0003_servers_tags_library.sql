-- drivesd schema, version 3: servers as mount targets, tags, the library drive catalogue and
-- simulated storage hosts (availability groups).

-- Which simulated storage host holds the drive (decision 11); frozen licenses come from the library.
ALTER TABLE drives ADD COLUMN host INTEGER NOT NULL DEFAULT 0;
ALTER TABLE drives ADD COLUMN licenses_frozen INTEGER NOT NULL DEFAULT 0 CHECK (licenses_frozen IN (0, 1));
CREATE INDEX drives_host ON drives(host);

CREATE TABLE servers (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid         TEXT NOT NULL UNIQUE,
    owner        TEXT NOT NULL REFERENCES users(uuid) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    cpu          INTEGER NOT NULL,
    mem          INTEGER NOT NULL,
    vnc_password TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('stopped', 'starting', 'running', 'stopping', 'paused', 'unavailable')),
    meta         TEXT NOT NULL DEFAULT '{}',     -- JSON object of strings
    extra        TEXT NOT NULL DEFAULT '{}',     -- JSON: the other keys a server echoes (smp, nics, cpu_type, ...)
    active_since TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX servers_owner_seq ON servers(owner, seq);

-- The library catalogue (/libdrives/): owned by nobody, cloned into accounts.
CREATE TABLE library_drives (
    uuid          TEXT PRIMARY KEY NOT NULL,
    name          TEXT NOT NULL,
    size          INTEGER NOT NULL,
    media         TEXT NOT NULL CHECK (media IN ('disk', 'cdrom')),
    arch          TEXT,
    category      TEXT NOT NULL DEFAULT '[]',    -- JSON list
    description   TEXT NOT NULL DEFAULT '',
    distribution  TEXT,
    image_type    TEXT NOT NULL,                 -- preinst | install
    install_notes TEXT NOT NULL DEFAULT '',
    os            TEXT NOT NULL,                 -- linux | windows | other
    paid          INTEGER NOT NULL DEFAULT 0,
    url           TEXT NOT NULL DEFAULT '',
    version       TEXT,
    default_user  TEXT,
    licenses      TEXT NOT NULL DEFAULT '[]'     -- JSON list of {"license": id, "amount": n}
) WITHOUT ROWID;

-- A server's `drives`: mount points. Each names either an owned drive or a library cdrom.
CREATE TABLE server_drives (
    server_seq   INTEGER NOT NULL REFERENCES servers(seq) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    drive_seq    INTEGER REFERENCES drives(seq) ON DELETE CASCADE,
    library_uuid TEXT REFERENCES library_drives(uuid),
    boot_order   INTEGER,
    dev_channel  TEXT NOT NULL,
    device       TEXT NOT NULL,
    PRIMARY KEY (server_seq, position),
    CHECK ((drive_seq IS NULL) != (library_uuid IS NULL))
) WITHOUT ROWID;
CREATE INDEX server_drives_drive ON server_drives(drive_seq) WHERE drive_seq IS NOT NULL;
CREATE UNIQUE INDEX server_drives_channel ON server_drives(server_seq, device, dev_channel);

-- Pending server status transitions (starting -> running, stopping -> stopped).
CREATE TABLE server_transitions (
    server_seq  INTEGER PRIMARY KEY NOT NULL REFERENCES servers(seq) ON DELETE CASCADE,
    operation   TEXT NOT NULL,
    from_status TEXT NOT NULL,
    due_at      REAL NOT NULL
);
CREATE INDEX server_transitions_due ON server_transitions(due_at);

CREATE TABLE tags (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid       TEXT NOT NULL UNIQUE,
    owner      TEXT NOT NULL REFERENCES users(uuid) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    meta       TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL
);
CREATE INDEX tags_owner_seq ON tags(owner, seq);
CREATE INDEX tags_owner_name ON tags(owner, name);

-- One relation, two views: a tag's `resources` and a resource's `tags`.
CREATE TABLE tag_resources (
    tag_seq  INTEGER NOT NULL REFERENCES tags(seq) ON DELETE CASCADE,
    res_type TEXT NOT NULL CHECK (res_type IN ('drives', 'servers')),
    res_uuid TEXT NOT NULL,
    UNIQUE (tag_seq, res_uuid)
);
CREATE INDEX tag_resources_res ON tag_resources(res_uuid);

CREATE TRIGGER drives_untag AFTER DELETE ON drives BEGIN
    DELETE FROM tag_resources WHERE res_uuid = OLD.uuid;
END;
CREATE TRIGGER servers_untag AFTER DELETE ON servers BEGIN
    DELETE FROM tag_resources WHERE res_uuid = OLD.uuid;
END;

INSERT INTO library_drives (uuid, name, size, media, arch, category, description, distribution, image_type,
                            install_notes, os, paid, url, version, default_user, licenses) VALUES
    ('6d53b92c-42dc-472b-a7b6-7021f45f377a', 'Ubuntu 22.04 LTS Server', 10737418240, 'disk', '64',
     '["general", "webserver"]',
     'Ubuntu 22.04 LTS Server 64bit, pre-installed, with cloud-init, SSH and Python.',
     'Ubuntu', 'preinst', 'Log in as cloudsigma with the password set through cloud-init.', 'linux', 0,
     'https://ubuntu.com/', '22.04', 'cloudsigma', '[]'),
    ('f5e1c7f0-5c5a-4c6b-9a2e-2a4bb0a3d9b1', 'Debian 12 Server', 10737418240, 'disk', '64',
     '["general"]', 'Debian 12 (bookworm) 64bit, pre-installed, with cloud-init and SSH.',
     'Debian', 'preinst', '', 'linux', 0, 'https://www.debian.org/', '12', 'cloudsigma', '[]'),
    ('0c4ab3c1-8f0d-4d27-9d8e-7be9a6f1c2d3', 'Windows Server 2022 Standard', 34359738368, 'disk', '64',
     '["general"]', 'Windows Server 2022 Standard 64bit English, pre-installed, with VirtIO drivers.',
     'Windows', 'preinst', 'Buy a Windows Server license before starting a server with this drive.', 'windows', 1,
     'https://www.microsoft.com/', '2022', 'cloudsigma', '[{"license": 12, "amount": 1}]'),
    ('c7105ec8-5d60-43a7-a11b-18dcfc1a4433', 'Microsoft SQL Server 2012 Standard Edition with SP1', 64424509440, 'disk',
     '64', '["dbserver"]',
     'Pre-installed SQL Server 2012 Standard Edition with SP1 64bit English with VirtIO and Python support.',
     NULL, 'preinst', '', 'windows', 1, 'http://www.microsoft.com/', NULL, 'cloudsigma',
     '[{"license": 14, "amount": 1}, {"license": 12, "amount": 1}]'),
    ('8b6a9a55-93c6-4b3e-8f11-34d0d6b0e7aa', 'Ubuntu 22.04 LTS Server Install CD', 2147483648, 'cdrom', '64',
     '["general"]', 'Ubuntu 22.04 LTS Server 64bit installation image.',
     'Ubuntu', 'install', 'Attach as a cdrom, boot from it and follow the installer.', 'linux', 0,
     'https://ubuntu.com/', '22.04', NULL, '[]');
