-- drivesd schema, version 9: change events derived from commits, and the credentials of Digest,
-- sessions and bearer tokens.

-- The event stream of the outbox: triggers append one row for every insert, update and delete of
-- an account's resources, in the transaction of the change, so a row exists if and only if the
-- change committed, whoever made it (a request, the worker, a cascade, an admin reset, the
-- command line). The event publisher reads the rows after the commit (ids grow in commit order:
-- SQLite has one writer), renders the resource as GET would, pushes the frames to the websocket
-- subscribers, and deletes what it has published.
--
-- Events cost nothing while nobody listens: the triggers record only while `event_listeners`
-- counts a subscriber. A subscriber is counted (committed) before its handshake is answered, so
-- every change committed after the handshake is recorded.
CREATE TABLE event_listeners (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    count INTEGER NOT NULL CHECK (count >= 0)
);
INSERT INTO event_listeners (id, count) VALUES (1, 0);

CREATE TABLE change_events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    owner         TEXT NOT NULL,
    resource_type TEXT NOT NULL CHECK (resource_type IN ('drives', 'servers', 'jobs', 'snapshots', 'tags')),
    uuid          TEXT NOT NULL,
    deleted       INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1))
);

CREATE TRIGGER drives_event_insert AFTER INSERT ON drives WHEN (SELECT count FROM event_listeners WHERE id = 1) > 0 BEGIN
    INSERT INTO change_events (owner, resource_type, uuid) VALUES (NEW.owner, 'drives', NEW.uuid);
END;
CREATE TRIGGER drives_event_update AFTER UPDATE ON drives WHEN (SELECT count FROM event_listeners WHERE id = 1) > 0 BEGIN
    INSERT INTO change_events (owner, resource_type, uuid) VALUES (NEW.owner, 'drives', NEW.uuid);
END;
CREATE TRIGGER drives_event_delete AFTER DELETE ON drives WHEN (SELECT count FROM event_listeners WHERE id = 1) > 0 BEGIN
    INSERT INTO change_events (owner, resource_type, uuid, deleted) VALUES (OLD.owner, 'drives', OLD.uuid, 1);
END;

CREATE TRIGGER servers_event_insert AFTER INSERT ON servers WHEN (SELECT count FROM event_listeners WHERE id = 1) > 0 BEGIN
    INSERT INTO change_events (owner, resource_type, uuid) VALUES (NEW.owner, 'servers', NEW.uuid);
END;
CREATE TRIGGER servers_event_update AFTER UPDATE ON servers WHEN (SELECT count FROM event_listeners WHERE id = 1) > 0 BEGIN
    INSERT INTO change_events (owner, resource_type, uuid) VALUES (NEW.owner, 'servers', NEW.uuid);
END;
CREATE TRIGGER servers_event_delete AFTER DELETE ON servers WHEN (SELECT count FROM event_listeners WHERE id = 1) > 0 BEGIN
    INSERT INTO change_events (owner, resource_type, uuid, deleted) VALUES (OLD.owner, 'servers', OLD.uuid, 1);
END;

-- A drive's `mounted_on` is its rows here.
CREATE TRIGGER server_drives_event_insert AFTER INSERT ON server_drives WHEN (SELECT count FROM event_listeners WHERE id = 1) > 0 AND NEW.drive_seq IS NOT NULL BEGIN
    INSERT INTO change_events (owner, resource_type, uuid) SELECT owner, 'drives', uuid FROM drives WHERE seq = NEW.drive_seq;
END;
CREATE TRIGGER server_drives_event_delete AFTER DELETE ON server_drives WHEN (SELECT count FROM event_listeners WHERE id = 1) > 0 AND OLD.drive_seq IS NOT NULL BEGIN
    INSERT INTO change_events (owner, resource_type, uuid) SELECT owner, 'drives', uuid FROM drives WHERE seq = OLD.drive_seq;
END;

CREATE TRIGGER jobs_event_insert AFTER INSERT ON jobs WHEN (SELECT count FROM event_listeners WHERE id = 1) > 0 BEGIN
    INSERT INTO change_events (owner, resource_type, uuid) VALUES (NEW.owner, 'jobs', NEW.uuid);
END;
CREATE TRIGGER jobs_event_update AFTER UPDATE ON jobs WHEN (SELECT count FROM event_listeners WHERE id = 1) > 0 BEGIN
    INSERT INTO change_events (owner, resource_type, uuid) VALUES (NEW.owner, 'jobs', NEW.uuid);
END;
CREATE TRIGGER jobs_event_delete AFTER DELETE ON jobs WHEN (SELECT count FROM event_listeners WHERE id = 1) > 0 BEGIN
    INSERT INTO change_events (owner, resource_type, uuid, deleted) VALUES (OLD.owner, 'jobs', OLD.uuid, 1);
END;

-- A snapshot's drive lists its snapshots: both change.
CREATE TRIGGER snapshots_event_insert AFTER INSERT ON snapshots WHEN (SELECT count FROM event_listeners WHERE id = 1) > 0 BEGIN
    INSERT INTO change_events (owner, resource_type, uuid) VALUES (NEW.owner, 'snapshots', NEW.uuid);
    INSERT INTO change_events (owner, resource_type, uuid) SELECT owner, 'drives', uuid FROM drives WHERE seq = NEW.drive_seq;
END;
CREATE TRIGGER snapshots_event_update AFTER UPDATE ON snapshots WHEN (SELECT count FROM event_listeners WHERE id = 1) > 0 BEGIN
    INSERT INTO change_events (owner, resource_type, uuid) VALUES (NEW.owner, 'snapshots', NEW.uuid);
END;
CREATE TRIGGER snapshots_event_delete AFTER DELETE ON snapshots WHEN (SELECT count FROM event_listeners WHERE id = 1) > 0 BEGIN
    INSERT INTO change_events (owner, resource_type, uuid, deleted) VALUES (OLD.owner, 'snapshots', OLD.uuid, 1);
    INSERT INTO change_events (owner, resource_type, uuid) SELECT owner, 'drives', uuid FROM drives WHERE seq = OLD.drive_seq;
END;

CREATE TRIGGER tags_event_insert AFTER INSERT ON tags WHEN (SELECT count FROM event_listeners WHERE id = 1) > 0 BEGIN
    INSERT INTO change_events (owner, resource_type, uuid) VALUES (NEW.owner, 'tags', NEW.uuid);
END;
CREATE TRIGGER tags_event_update AFTER UPDATE ON tags WHEN (SELECT count FROM event_listeners WHERE id = 1) > 0 BEGIN
    INSERT INTO change_events (owner, resource_type, uuid) VALUES (NEW.owner, 'tags', NEW.uuid);
END;
CREATE TRIGGER tags_event_delete AFTER DELETE ON tags WHEN (SELECT count FROM event_listeners WHERE id = 1) > 0 BEGIN
    INSERT INTO change_events (owner, resource_type, uuid, deleted) VALUES (OLD.owner, 'tags', OLD.uuid, 1);
END;

-- Tagging changes the tag's `resources` and the resource's `tags`.
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

-- Digest (RFC 7616, MD5): HA1 = MD5(email:users:password), written when the password is set
-- (creation, change) and, for users created before this release, at their next Basic login.
ALTER TABLE users ADD COLUMN digest_ha1 TEXT;

-- Cookie sessions (`do=login`): the sessionid cookie is a random secret; only its SHA-256 is kept.
CREATE TABLE sessions (
    key_hash   BLOB PRIMARY KEY NOT NULL,
    user_uuid  TEXT NOT NULL REFERENCES users(uuid) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions(user_uuid);
CREATE INDEX sessions_expiry ON sessions(expires_at);

-- Bearer tokens (`drivesd token create`): stored as SHA-256 of the token; `id` is a short public
-- name for listing and revoking without the secret.
CREATE TABLE api_tokens (
    token_hash BLOB PRIMARY KEY NOT NULL,
    id         TEXT NOT NULL UNIQUE,
    user_uuid  TEXT NOT NULL REFERENCES users(uuid) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at REAL
) WITHOUT ROWID;
CREATE INDEX api_tokens_user ON api_tokens(user_uuid);

-- Keys of the server's own signatures (Digest nonces, async_auth cookies), made once and shared
-- by every process on this database, so that they survive restarts.
CREATE TABLE server_secrets (
    name  TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL
) WITHOUT ROWID;

-- Moves whenever a credential stops being valid (password changed, user, session or token
-- deleted), from whichever process: the API drops its cache of verified credentials when it sees
-- it move (it looks at most once a second).
CREATE TABLE credential_epoch (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
);
INSERT INTO credential_epoch (id, value) VALUES (1, 0);
CREATE TRIGGER users_credentials_changed AFTER UPDATE OF password_hash, salt, iterations, digest_ha1, email ON users
WHEN OLD.password_hash IS NOT NEW.password_hash OR OLD.email IS NOT NEW.email
BEGIN
    UPDATE credential_epoch SET value = value + 1 WHERE id = 1;
END;
CREATE TRIGGER users_credentials_deleted AFTER DELETE ON users BEGIN
    UPDATE credential_epoch SET value = value + 1 WHERE id = 1;
END;
CREATE TRIGGER sessions_credentials_deleted AFTER DELETE ON sessions BEGIN
    UPDATE credential_epoch SET value = value + 1 WHERE id = 1;
END;
CREATE TRIGGER api_tokens_credentials_deleted AFTER DELETE ON api_tokens BEGIN
    UPDATE credential_epoch SET value = value + 1 WHERE id = 1;
END;
