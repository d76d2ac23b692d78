-- Named states (issue 22): `states` describes each saved state, and `saved_<table>` holds the
-- rows of <table> as they were when the state was saved: a `state_id` and the table's columns.
-- Each saved_ table is made from its live table, so their columns match; a migration that adds a
-- column to a live table adds it to its saved_ table too (a test compares the two).
--
-- Content is never copied: a state's drives and snapshots reference content images like live
-- ones do, and `content_images.refs` counts those references (added when the state is saved,
-- taken back when it is deleted), so an image lives as long as a state needs it.

CREATE TABLE states (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT NOT NULL UNIQUE,
    -- The account (uuid) a per-account state holds; NULL: every account (the whole daemon).
    account       TEXT,
    saved_at      REAL NOT NULL,      -- unix seconds: transitions resume relative to it
    created       TEXT NOT NULL,        -- ISO-8601, as listed
    drives        INTEGER NOT NULL,
    servers       INTEGER NOT NULL,
    snapshots     INTEGER NOT NULL,
    logical_bytes INTEGER NOT NULL,  -- the sum of the drives' sizes
    stored_bytes  INTEGER NOT NULL   -- bytes of the content the state references
);

CREATE TABLE saved_users AS SELECT CAST(0 AS INTEGER) AS state_id, * FROM users WHERE 0;
CREATE INDEX saved_users_state ON saved_users(state_id, uuid);
CREATE TABLE saved_api_tokens AS SELECT CAST(0 AS INTEGER) AS state_id, * FROM api_tokens WHERE 0;
CREATE INDEX saved_api_tokens_state ON saved_api_tokens(state_id, token_hash);
CREATE TABLE saved_network_allotment AS SELECT CAST(0 AS INTEGER) AS state_id, * FROM network_allotment WHERE 0;
CREATE INDEX saved_network_allotment_state ON saved_network_allotment(state_id, id);
CREATE TABLE saved_profiles AS SELECT CAST(0 AS INTEGER) AS state_id, * FROM profiles WHERE 0;
CREATE INDEX saved_profiles_state ON saved_profiles(state_id, user_uuid);
CREATE TABLE saved_ips AS SELECT CAST(0 AS INTEGER) AS state_id, * FROM ips WHERE 0;
CREATE INDEX saved_ips_state ON saved_ips(state_id, seq);
CREATE TABLE saved_vlans AS SELECT CAST(0 AS INTEGER) AS state_id, * FROM vlans WHERE 0;
CREATE INDEX saved_vlans_state ON saved_vlans(state_id, seq);
CREATE TABLE saved_drives AS SELECT CAST(0 AS INTEGER) AS state_id, * FROM drives WHERE 0;
CREATE INDEX saved_drives_state ON saved_drives(state_id, seq);
CREATE TABLE saved_drive_licenses AS SELECT CAST(0 AS INTEGER) AS state_id, * FROM drive_licenses WHERE 0;
CREATE INDEX saved_drive_licenses_state ON saved_drive_licenses(state_id, drive_seq, position);
CREATE TABLE saved_jobs AS SELECT CAST(0 AS INTEGER) AS state_id, * FROM jobs WHERE 0;
CREATE INDEX saved_jobs_state ON saved_jobs(state_id, seq);
CREATE TABLE saved_drive_jobs AS SELECT CAST(0 AS INTEGER) AS state_id, * FROM drive_jobs WHERE 0;
CREATE INDEX saved_drive_jobs_state ON saved_drive_jobs(state_id, drive_seq, job_seq);
CREATE TABLE saved_servers AS SELECT CAST(0 AS INTEGER) AS state_id, * FROM servers WHERE 0;
CREATE INDEX saved_servers_state ON saved_servers(state_id, seq);
CREATE TABLE saved_server_drives AS SELECT CAST(0 AS INTEGER) AS state_id, * FROM server_drives WHERE 0;
CREATE INDEX saved_server_drives_state ON saved_server_drives(state_id, server_seq, position);
CREATE TABLE saved_snapshots AS SELECT CAST(0 AS INTEGER) AS state_id, * FROM snapshots WHERE 0;
CREATE INDEX saved_snapshots_state ON saved_snapshots(state_id, seq);
CREATE TABLE saved_tags AS SELECT CAST(0 AS INTEGER) AS state_id, * FROM tags WHERE 0;
CREATE INDEX saved_tags_state ON saved_tags(state_id, seq);
CREATE TABLE saved_tag_resources AS SELECT CAST(0 AS INTEGER) AS state_id, * FROM tag_resources WHERE 0;
CREATE INDEX saved_tag_resources_state ON saved_tag_resources(state_id, tag_seq, res_uuid);
CREATE TABLE saved_uploads AS SELECT CAST(0 AS INTEGER) AS state_id, * FROM uploads WHERE 0;
CREATE INDEX saved_uploads_state ON saved_uploads(state_id, drive_seq);
CREATE TABLE saved_upload_ranges AS SELECT CAST(0 AS INTEGER) AS state_id, * FROM upload_ranges WHERE 0;
CREATE INDEX saved_upload_ranges_state ON saved_upload_ranges(state_id, drive_seq, start);
CREATE TABLE saved_pending_transitions AS SELECT CAST(0 AS INTEGER) AS state_id, * FROM pending_transitions WHERE 0;
CREATE INDEX saved_pending_transitions_state ON saved_pending_transitions(state_id, resource_seq, resource_kind, operation);
CREATE INDEX saved_drives_image ON saved_drives(state_id, content_image) WHERE content_image IS NOT NULL;
