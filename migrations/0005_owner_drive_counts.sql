-- drivesd schema, version 5: how many drives each user has, kept by triggers, so that an
-- unfiltered list answers total_count without counting a million rows.

CREATE TABLE owner_drive_counts (
    owner  TEXT PRIMARY KEY NOT NULL REFERENCES users(uuid) ON DELETE CASCADE,
    drives INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

INSERT INTO owner_drive_counts (owner, drives) SELECT owner, COUNT(*) FROM drives GROUP BY owner;

CREATE TRIGGER drives_count_insert AFTER INSERT ON drives BEGIN
    INSERT INTO owner_drive_counts (owner, drives) VALUES (NEW.owner, 1)
        ON CONFLICT (owner) DO UPDATE SET drives = drives + 1;
END;

CREATE TRIGGER drives_count_delete AFTER DELETE ON drives BEGIN
    UPDATE owner_drive_counts SET drives = drives - 1 WHERE owner = OLD.owner;
END;
