import DriveModel
import DriveStorage
#if !POSTGRES
import GRDB
#endif

/// Drive rows read into the model: one statement per drive query, related rows only where the
/// drive has some.
enum DriveRows {
    /// The columns of drive queries, read by index in `fetchStored`. The five flags tell which
    /// related rows exist, so the common drive (no license, job, mount, tag or snapshot) costs one
    /// statement. They come from the counts the triggers keep in `drive_relations` (migration
    /// 0013): one look-up a drive, where five `EXISTS` probes were a seventh of a page's time.
    static let driveColumns = """
        d.seq, d.uuid, d.owner, d.name, d.size, d.media, d.storage_type, d.status, d.allow_multimount,
        d.affinities, d.meta, d.iops,
        COALESCE(r.licenses, 0) > 0, COALESCE(r.jobs, 0) > 0, COALESCE(r.mounts, 0) > 0, COALESCE(r.tags, 0) > 0,
        d.licenses_frozen, d.content_image,
        COALESCE(r.snapshots, 0) > 0
        """

    /// What drive queries read from: `d`, the drives, with `r`, their related rows' counts.
    static let driveSource = "drives d LEFT JOIN drive_relations r ON r.drive_seq = d.seq"

    /// Drives matching `whereSQL` (over alias `d`), related rows included. `cached`: the SQL text
    /// comes from a small fixed set, so its prepared statement is kept for the next request.
    static func fetchDrives(
        _ db: Database, where whereSQL: String, _ args: [any DatabaseValueConvertible], tail: String = "",
        cached: Bool = false
    ) throws -> [Drive] {
        try fetch(db, where: whereSQL, args, tail: tail, cached: cached).drives
    }

    /// A drive with what the store keeps beside it.
    struct Stored {
        var seq: Int64
        var licensesFrozen: Bool
        var drive: Drive
        /// The content image the drive points at; nil: zeros.
        var contentImage: Int64? = nil

        /// What the plan interpreter needs.
        var row: PlanInterpreter.DriveRow {
            PlanInterpreter.DriveRow(
                seq: seq, uuid: drive.uuid, status: drive.status, size: drive.size, storageType: drive.storageType)
        }
    }

    /// The owner's drive `uuid` with its stored extras, or nil.
    static func owned(_ db: Database, owner: String, uuid: String) throws -> Stored? {
        try fetchStored(db, where: "d.uuid = ? AND d.owner = ?", [uuid, owner], cached: true).first
    }

    static func fetchStored(
        _ db: Database, where whereSQL: String, _ args: [any DatabaseValueConvertible], tail: String = "",
        cached: Bool = false
    ) throws -> [Stored] {
        let (drives, extras) = try fetch(db, where: whereSQL, args, tail: tail, cached: cached)
        return zip(extras, drives).map { Stored(seq: $0.seq, licensesFrozen: $0.frozen, drive: $1, contentImage: $0.image) }
    }

    /// The drives, and what the store keeps beside each, in two arrays: a page of drives is
    /// returned as it was built, without copying each drive into another array.
    private static func fetch(
        _ db: Database, where whereSQL: String, _ args: [any DatabaseValueConvertible], tail: String,
        cached: Bool
    ) throws -> (drives: [Drive], extras: [(seq: Int64, frozen: Bool, image: Int64?)]) {
        let sql = "SELECT \(driveColumns) FROM \(driveSource) WHERE \(whereSQL)\(tail)"
        let statement = cached ? try db.cachedStatement(sql: sql) : try db.makeStatement(sql: sql)
        let cursor = try columns(statement, StatementArguments(args))
        var drives: [Drive] = []
        var extras: [(seq: Int64, frozen: Bool, image: Int64?)] = []
        var related: [(index: Int, seq: Int64, licenses: Bool, jobs: Bool, mounts: Bool, tags: Bool, snapshots: Bool)] = []
        while let row = try cursor.next() {
            let seq: Int64 = row[0]
            let flags = (
                licenses: row[12] as Bool, jobs: row[13] as Bool, mounts: row[14] as Bool, tags: row[15] as Bool,
                snapshots: row[18] as Bool
            )
            if flags.licenses || flags.jobs || flags.mounts || flags.tags || flags.snapshots {
                related.append((drives.count, seq, flags.licenses, flags.jobs, flags.mounts, flags.tags, flags.snapshots))
            }
            drives.append(
                Drive(
                    uuid: row[1], owner: row[2], name: row[3], size: row[4],
                    media: DriveMedia(rawValue: row[5]) ?? .disk, storageType: row[6],
                    status: DriveStatus(rawValue: row[7]) ?? .unavailable,
                    allowMultimount: row[8], affinities: Codec.decodeStrings(row[9]),
                    meta: Codec.decodeStringMap(row[10]), iops: row[11]))
            extras.append((seq, row[16], row[17]))
        }
        for item in related {
            if item.licenses {
                let rows = try Row.fetchAll(
                    db.cachedStatement(
                        sql: """
                            SELECT dl.amount, l.id, l.name, l.long_name, l.type, l.user_metric, l.burstable
                            FROM drive_licenses dl JOIN licenses l ON l.id = dl.license_id
                            WHERE dl.drive_seq = ? ORDER BY dl.position
                            """),
                    arguments: [item.seq])
                drives[item.index].licenses = rows.map { row in
                    DriveLicense(
                        amount: row[0],
                        license: License(
                            id: row[1], name: row[2], longName: row[3], type: row[4], userMetric: row[5], burstable: row[6]))
                }
            }
            if item.jobs {
                drives[item.index].jobs = try String.fetchAll(
                    db.cachedStatement(
                        sql: """
                            SELECT j.uuid FROM drive_jobs dj JOIN jobs j ON j.seq = dj.job_seq
                            WHERE dj.drive_seq = ? ORDER BY dj.job_seq
                            """),
                    arguments: [item.seq])
            }
            if item.mounts {
                drives[item.index].mountedOn = try Relations.mountedOn(db, driveSeq: item.seq)
            }
            if item.tags {
                drives[item.index].tags = try Relations.tags(db, of: drives[item.index].uuid)
            }
            if item.snapshots {
                // Every snapshot of the drive, newest first (S11), in any status.
                drives[item.index].snapshots = try String.fetchAll(
                    db.cachedStatement(sql: "SELECT uuid FROM snapshots WHERE drive_seq = ? ORDER BY seq DESC"), arguments: [item.seq])
            }
        }
        return (drives, extras)
    }
}
