-- 0007: drives that hold bytes (content images, upload bookkeeping).
--
-- A drive's content is an image: a map from extent index to an extent file under the data
-- directory (`images/<id & 255 as two hex digits>/<id>/<index>`). Extents that were never written
-- are zeros and are not stored; an extent file may be shorter than the extent (the rest is
-- zeros). A drive with no image reads as zeros. Images are immutable once sealed and are shared
-- by reference: a clone points at its source's image (copy-on-write costs one row, whatever the
-- size or the data). An image open for an upload belongs to one drive in `uploading` and is
-- sealed when its last range is written.
CREATE TABLE content_images (
    -- AUTOINCREMENT: an id is never reused, so the removal of an image's files (after the
    -- commit that dropped it) can never hit a newer image that got the same id.
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    -- Drives (and library drives) that point at this image; at 0 the image is removed and its
    -- files are deleted after the commit (outbox effect `content.remove`).
    refs        INTEGER NOT NULL DEFAULT 0,
    extent_size INTEGER NOT NULL CHECK (extent_size > 0),
    sealed      INTEGER NOT NULL DEFAULT 1 CHECK (sealed IN (0, 1)),
    created_at  REAL NOT NULL
);

CREATE TABLE content_extents (
    image_id INTEGER NOT NULL REFERENCES content_images(id) ON DELETE CASCADE,
    idx      INTEGER NOT NULL CHECK (idx >= 0),
    -- Bytes in the extent file (the rest of the extent reads as zeros).
    length   INTEGER NOT NULL CHECK (length > 0),
    -- SHA-256 of the file's bytes, recorded when the extent was written in full; NULL while an
    -- upload still writes into it.
    checksum BLOB,
    PRIMARY KEY (image_id, idx)
) WITHOUT ROWID;

ALTER TABLE drives ADD COLUMN content_image INTEGER;
ALTER TABLE library_drives ADD COLUMN content_image INTEGER;

-- A drive in `uploading` and what has arrived. `single`: a single-request upload, whose client
-- learns the uuid only at the end (an interrupted one is deleted at start).
CREATE TABLE uploads (
    drive_seq  INTEGER PRIMARY KEY REFERENCES drives(seq) ON DELETE CASCADE,
    single     INTEGER NOT NULL DEFAULT 0 CHECK (single IN (0, 1)),
    created_at REAL NOT NULL
);

-- Byte ranges [start, end) written and acknowledged, merged (no two touch).
CREATE TABLE upload_ranges (
    drive_seq INTEGER NOT NULL REFERENCES uploads(drive_seq) ON DELETE CASCADE,
    start     INTEGER NOT NULL,
    "end"     INTEGER NOT NULL CHECK ("end" > start),
    PRIMARY KEY (drive_seq, start)
) WITHOUT ROWID;

-- Per-chunk upload links (`do=upload_chunk`): a token bound to a range, valid until expires_at.
CREATE TABLE upload_links (
    token      TEXT PRIMARY KEY NOT NULL,
    drive_seq  INTEGER NOT NULL REFERENCES uploads(drive_seq) ON DELETE CASCADE,
    start      INTEGER NOT NULL,
    length     INTEGER NOT NULL,
    expires_at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX upload_links_drive ON upload_links(drive_seq);

-- Reference counts follow the drives, whichever statement adds or removes them (a delete, a
-- cascade from a server, an admin reset, a restore).
CREATE TRIGGER drives_content_insert AFTER INSERT ON drives WHEN NEW.content_image IS NOT NULL
BEGIN
    UPDATE content_images SET refs = refs + 1 WHERE id = NEW.content_image;
END;

CREATE TRIGGER drives_content_update AFTER UPDATE OF content_image ON drives
    WHEN NEW.content_image IS NOT OLD.content_image
BEGIN
    UPDATE content_images SET refs = refs + 1 WHERE id = NEW.content_image;
    UPDATE content_images SET refs = refs - 1 WHERE id = OLD.content_image;
END;

CREATE TRIGGER drives_content_delete AFTER DELETE ON drives WHEN OLD.content_image IS NOT NULL
BEGIN
    UPDATE content_images SET refs = refs - 1 WHERE id = OLD.content_image;
END;

-- An image nothing references goes, with its extents; its files follow after the commit.
CREATE TRIGGER content_images_unreferenced AFTER UPDATE OF refs ON content_images WHEN NEW.refs <= 0
BEGIN
    INSERT INTO outbox (effect, payload, created_at)
        VALUES ('content.remove', '{"image": ' || NEW.id || '}', (julianday('now') - 2440587.5) * 86400.0);
    DELETE FROM content_images WHERE id = NEW.id;
END;
