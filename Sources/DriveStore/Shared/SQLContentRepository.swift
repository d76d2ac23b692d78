import DriveLifecycle
import DriveModel
import DriveStorage
import Foundation
#if !POSTGRES
import GRDB
#endif

/// The content map in SQLite: `content_images`, `content_extents` and the upload bookkeeping
/// (`uploads`, `upload_ranges`, `upload_links`) of migration 0007. Reference counts of images
/// follow the drives through triggers, and an image nothing references is removed with its
/// extents in the same transaction, its files queued in the outbox (`content.remove`).
public struct SQLContentRepository: ContentRepository {
    let database: AppDatabase
    let env: WriteEnvironment

    init(database: AppDatabase, env: WriteEnvironment) {
        self.database = database
        self.env = env
    }

    // MARK: Uploads

    public func beginUpload(owner: String, spec: DriveSpec, single: Bool, extentSize: Int64, now: Date) async throws
        -> UploadTarget
    {
        try await database.interpret(env, now: now, groupedFor: owner) { interpreter in
            let db = interpreter.db
            if DriveRules.isEphemeral(spec.storageType) { throw DriveRules.ephemeralUploadRefusal }
            let plan = DriveLifecycle.upload
            let licenses = try SQLLicenseRepository.resolveLicenses(db, spec.licenses)
            let image = try Int64.fetchOne(db.cachedStatement(sql: "INSERT INTO content_images (refs, extent_size, sealed, created_at) VALUES (0, ?, 0, ?) RETURNING id"),
                arguments: [extentSize, now.timeIntervalSince1970]) ?? 0
            let drive = Drive(
                uuid: Identifiers.make(now: now), owner: owner, name: spec.name, size: spec.size, media: spec.media,
                storageType: spec.storageType, status: plan.status ?? .uploading, allowMultimount: spec.allowMultimount,
                affinities: spec.affinities, meta: spec.meta, iops: spec.iops, licenses: licenses)
            let host = try Relations.placeHost(db, owner: owner, avoid: [], hosts: interpreter.env.hosts)
            let seq = try SQLDriveRepository.insertRow(
                db, drive, host: host, licensesFrozen: false, stamp: interpreter.stamp, contentImage: image)
            try SQLLicenseRepository.insertLicenses(db, seq: seq, spec.licenses)
            if !spec.tags.isEmpty {
                try Relations.setTags(db, owner: owner, resType: "drives", resUUID: drive.uuid, tagUUIDs: spec.tags)
            }
            try db.run(
                sql: "INSERT INTO uploads (drive_seq, single, created_at) VALUES (?, ?, ?)",
                arguments: [seq, single, now.timeIntervalSince1970])
            return UploadTarget(
                seq: seq, uuid: drive.uuid, owner: owner, status: drive.status, size: drive.size,
                storageType: drive.storageType, image: image, extentSize: extentSize, ranges: ByteRanges(), single: single)
        }
    }

    public func uploadTarget(owner: String, uuid: String) async throws -> UploadTarget {
        try await database.read { db in
            guard let target = try Self.target(db, where: "d.uuid = ? AND d.owner = ?", [uuid, owner]) else {
                if try SQLLibraryRepository.exists(db, uuid: uuid) {
                    throw CloudSigmaError.permission("Library drive \(uuid) cannot be uploaded to")
                }
                throw CloudSigmaError.notExist(uuid)
            }
            return target
        }
    }

    static func target(_ db: Database, where whereSQL: String, _ args: [any DatabaseValueConvertible]) throws -> UploadTarget? {
        guard
            let row = try Row.fetchOne(
                db.cachedStatement(
                    sql: """
                        SELECT d.seq, d.uuid, d.owner, d.status, d.size, d.storage_type, d.content_image,
                               i.extent_size, u.single
                        FROM drives d LEFT JOIN content_images i ON i.id = d.content_image
                                      LEFT JOIN uploads u ON u.drive_seq = d.seq
                        WHERE \(whereSQL)
                        """),
                arguments: StatementArguments(args))
        else { return nil }
        let seq: Int64 = row[0]
        let status = DriveStatus(rawValue: row[3]) ?? .unavailable
        let image: Int64? = row[6]
        let ranges = try ranges(db, seq: seq)
        var extents = Set<Int64>()
        if status == .uploading, let image {
            extents = Set(
                try Int64.fetchAll(
                    db.cachedStatement(sql: "SELECT idx FROM content_extents WHERE image_id = ?"), arguments: [image]))
        }
        return UploadTarget(
            seq: seq, uuid: row[1], owner: row[2], status: status, size: row[4],
            storageType: row[5], image: image, extentSize: row[7] ?? 4 * 1024 * 1024, ranges: ranges,
            single: (row[8] as Bool?) ?? false, extents: extents)
    }

    static func ranges(_ db: Database, seq: Int64) throws -> ByteRanges {
        ByteRanges(
            try Row.fetchAll(
                db.cachedStatement(sql: "SELECT start, \"end\" FROM upload_ranges WHERE drive_seq = ? ORDER BY start"),
                arguments: [seq]
            ).map { ($0[0] as Int64)..<($0[1] as Int64) })
    }

    public func recordUpload(_ write: UploadWrite, now: Date) async throws -> UploadProgress {
        try await database.interpret(env, now: now) { interpreter in
            let db = interpreter.db
            guard let target = try Self.target(db, where: "d.seq = ?", [write.seq]), target.image == write.image else {
                throw CloudSigmaError(.notexist, "The drive of this upload no longer exists")
            }
            guard target.status == .uploading else {
                throw DriveLifecycle.refusal("upload to", target.status, expected: [.uploading])
            }
            for extent in write.extents {
                try db.run(
                    sql: """
                        INSERT INTO content_extents (image_id, idx, length, checksum) VALUES (?, ?, ?, ?)
                        ON CONFLICT (image_id, idx) DO UPDATE SET
                            length = \(Dialect.greatest)(content_extents.length, excluded.length), checksum = excluded.checksum
                        """,
                    arguments: [write.image, extent.index, extent.length, extent.checksum.map { Data($0) }])
            }
            for index in write.zeroExtents {
                try db.run(
                    sql: "DELETE FROM content_extents WHERE image_id = ? AND idx = ?", arguments: [write.image, index])
            }
            var size = target.size
            if let finalSize = write.finalSize, finalSize != size {
                size = finalSize
                try db.run(sql: "UPDATE drives SET size = ? WHERE seq = ?", arguments: [size, write.seq])
            }
            var ranges = target.ranges
            ranges.insert(write.range)
            try db.run(sql: "DELETE FROM upload_ranges WHERE drive_seq = ?", arguments: [write.seq])
            for range in ranges.ranges {
                try db.run(
                    sql: "INSERT INTO upload_ranges (drive_seq, start, \"end\") VALUES (?, ?, ?)",
                    arguments: [write.seq, range.lowerBound, range.upperBound])
            }
            guard ranges.covers(0..<size) else {
                return UploadProgress(ranges: ranges, completed: false, drive: nil)
            }
            // The last range arrived: the drive leaves `uploading` in this transaction (U6),
            // grown to the type's minimum with zeros (the image needs nothing for that).
            let context = try interpreter.driveContext(seq: write.seq, status: target.status, storageType: target.storageType)
            guard let plan = try DriveLifecycle.plan(.finishUpload, in: context).plan() else {
                throw StoreError.conflict("finish upload \(target.uuid)")
            }
            let grown = max(size, write.minimumSize)
            try interpreter.carryOut(
                plan,
                on: PlanInterpreter.DriveRow(
                    seq: write.seq, uuid: target.uuid, status: target.status, size: size, storageType: target.storageType),
                sets: [("size", grown)])
            try db.run(sql: "UPDATE content_images SET sealed = 1 WHERE id = ?", arguments: [write.image])
            try db.run(sql: "DELETE FROM uploads WHERE drive_seq = ?", arguments: [write.seq])
            let drive = try DriveRows.fetchDrives(db, where: "d.seq = ?", [write.seq]).first
            return UploadProgress(ranges: ranges, completed: true, drive: drive)
        }
    }

    public func abandonUpload(seq: Int64) async throws {
        try await database.write { db in
            try db.run(sql: "DELETE FROM drives WHERE seq = ? AND status = 'uploading'", arguments: [seq])
        }
        database.signals.outbox.ring()
    }

    public func addUploadLink(owner: String, uuid: String, token: String, range: Range<Int64>, expires: Date) async throws {
        try await database.write { db in
            guard let seq = try Int64.fetchOne(
                db.cachedStatement(
                    sql: """
                        SELECT u.drive_seq FROM uploads u JOIN drives d ON d.seq = u.drive_seq
                        WHERE d.uuid = ? AND d.owner = ?
                        """), arguments: [uuid, owner])
            else { throw CloudSigmaError.notExist(uuid) }
            // Expired links of any upload go with the next one made.
            try db.run(sql: "DELETE FROM upload_links WHERE expires_at < ?", arguments: [Date().timeIntervalSince1970])
            try db.run(
                sql: "INSERT INTO upload_links (token, drive_seq, start, length, expires_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [token, seq, range.lowerBound, range.count, expires.timeIntervalSince1970])
        }
    }

    public func uploadLink(token: String, now: Date) async throws -> (target: UploadTarget, range: Range<Int64>)? {
        try await database.read { db in
            guard
                let row = try Row.fetchOne(
                    db.cachedStatement(sql: "SELECT drive_seq, start, length, expires_at FROM upload_links WHERE token = ?"),
                    arguments: [token]),
                (row[3] as Double) >= now.timeIntervalSince1970,
                let target = try Self.target(db, where: "d.seq = ?", [row[0] as Int64])
            else { return nil }
            let start: Int64 = row[1]
            return (target, start..<(start + (row[2] as Int64)))
        }
    }

    // MARK: Reads

    public func readTarget(owner: String, uuid: String) async throws -> ReadTarget {
        try await database.read { db in
            guard
                let row = try Row.fetchOne(
                    db.cachedStatement(
                        sql: """
                            SELECT d.status, d.size, d.storage_type, d.content_image, i.extent_size
                            FROM drives d LEFT JOIN content_images i ON i.id = d.content_image
                            WHERE d.uuid = ? AND d.owner = ?
                            """), arguments: [uuid, owner])
            else {
                if try SQLLibraryRepository.exists(db, uuid: uuid) {
                    throw CloudSigmaError.permission("Library drive \(uuid) cannot be downloaded; clone it first")
                }
                throw CloudSigmaError.notExist(uuid)
            }
            let image: Int64? = row[3]
            var extents: [Int64: Int64] = [:]
            var checksums: [Int64: [UInt8]] = [:]
            if let image {
                for extent in try Row.fetchAll(
                    db.cachedStatement(sql: "SELECT idx, length, checksum FROM content_extents WHERE image_id = ?"),
                    arguments: [image])
                {
                    extents[extent[0]] = extent[1]
                    if let checksum = extent[2] as Data? { checksums[extent[0]] = Array(checksum) }
                }
            }
            var target = ReadTarget(
                uuid: uuid, status: DriveStatus(rawValue: row[0]) ?? .unavailable, size: row[1], storageType: row[2],
                image: image, extentSize: row[4] ?? 4 * 1024 * 1024, extents: extents)
            target.checksums = checksums
            return target
        }
    }

    public func imageExists(_ id: Int64) async throws -> Bool {
        try await database.exists(sql: "SELECT 1 FROM content_images WHERE id = ?", arguments: [id])
    }

    // MARK: Maintenance

    public func ensureLibraryImages(
        write: @Sendable (_ image: Int64, _ uuid: String, _ name: String) throws -> StoredExtent
    ) async throws -> Int {
        let missing = try await database.read { db in
            try Row.fetchAll(db, sql: "SELECT uuid, name FROM library_drives WHERE content_image IS NULL ORDER BY uuid")
                .map { (uuid: $0[0] as String, name: $0[1] as String) }
        }
        for library in missing {
            // The image row first (so its files are never unreferenced), then the file, then the
            // extent and the library's reference in one transaction.
            let image = try await database.write { db in
                try Int64.fetchOne(db.cachedStatement(sql: "INSERT INTO content_images (refs, extent_size, sealed, created_at) VALUES (1, ?, 1, ?) RETURNING id"),
                    arguments: [4 * 1024 * 1024, Date().timeIntervalSince1970]) ?? 0
            }
            let extent = try write(image, library.uuid, library.name)
            try await database.write { db in
                try db.run(
                    sql: "INSERT INTO content_extents (image_id, idx, length, checksum) VALUES (?, ?, ?, ?)",
                    arguments: [image, extent.index, extent.length, extent.checksum.map { Data($0) }])
                try db.run(
                    sql: "UPDATE library_drives SET content_image = ? WHERE uuid = ? AND content_image IS NULL",
                    arguments: [image, library.uuid])
            }
        }
        return missing.count
    }

    public func removeInterruptedSingleUploads() async throws -> Int {
        let removed = try await database.write { db in
            try db.run(
                sql: """
                    DELETE FROM drives WHERE status = 'uploading'
                      AND seq IN (SELECT drive_seq FROM uploads WHERE single = 1)
                    """)
            return db.changesCount
        }
        if removed > 0 { database.signals.outbox.ring() }
        return removed
    }

    public func imageIDs() async throws -> Set<Int64> {
        try await database.read { db in Set(try Int64.fetchAll(db, sql: "SELECT id FROM content_images")) }
    }

    public func storedExtents() async throws -> [StoredExtent] {
        try await database.read { db in try Self.storedExtents(db) }
    }

    static func storedExtents(_ db: Database) throws -> [StoredExtent] {
        try Row.fetchAll(db, sql: "SELECT image_id, idx, length, checksum FROM content_extents ORDER BY image_id, idx")
            .map { StoredExtent(image: $0[0], index: $0[1], length: $0[2], checksum: ($0[3] as Data?).map { Array($0) }) }
    }

    public func stats() async throws -> ContentStats {
        try await database.read { db in
            let logical = try Int64.fetchOne(db, sql: "SELECT COALESCE(SUM(size), 0) FROM drives") ?? 0
            let stored = try Row.fetchOne(db, sql: "SELECT COALESCE(SUM(length), 0), COUNT(*) FROM content_extents")
            let shared =
                try Int64.fetchOne(
                    db,
                    sql: """
                        SELECT COALESCE(SUM(e.length), 0) FROM content_extents e
                        JOIN content_images i ON i.id = e.image_id WHERE i.refs > 1
                        """) ?? 0
            let images = try Int64.fetchOne(db, sql: "SELECT COUNT(*) FROM content_images") ?? 0
            return ContentStats(
                logicalBytes: logical, storedBytes: stored?[0] ?? 0, sharedBytes: shared, pieces: stored?[1] ?? 0,
                images: images)
        }
    }
}
