-- Twin of SQLite migration 0014 (drive_indexes): two fewer index entries for each drive written.
-- drives_host goes (drives_owner_seq serves its one query, an account's drives on one host);
-- drives_status holds the drives that are not 'unmounted' only: a status filter without
-- 'unmounted' adds `status <> 'unmounted'` to use it, and the admin stats count the unmounted
-- drives as the total of owner_drive_counts minus the others.

DROP INDEX drives_host;
DROP INDEX drives_status;
CREATE INDEX drives_status_not_unmounted ON drives(status) WHERE status <> 'unmounted';
