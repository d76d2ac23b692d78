-- drivesd schema, version 14: two fewer index entries for each drive written (issue 17). Every
-- drive row was in five indexes; an insert wrote an entry in each, and a commit the page of each.
--
-- drives_host goes: its one query (an account's drives on one storage host, the availability
-- groups) is served by drives_owner_seq, which reads that account's drives only, where
-- drives_host read the host's drives of every account.
--
-- drives_status becomes partial: it holds the drives that are not 'unmounted'. Most drives are
-- unmounted most of their life (a create at time scale 0 is stored unmounted), and nothing looks
-- them up by that status: a status filter that includes 'unmounted' reads drives_owner_seq, one
-- without it adds `status <> 'unmounted'` so that this index serves it, and the count of
-- unmounted drives (the admin stats, /metrics) is the total of owner_drive_counts minus the
-- others.

DROP INDEX drives_host;
DROP INDEX drives_status;
CREATE INDEX drives_status_not_unmounted ON drives(status) WHERE status <> 'unmounted';
