import DriveLifecycle
import DriveModel
import DriveStorage
import Foundation
#if !POSTGRES
import GRDB
#endif

/// Snapshots in SQLite (migration 0008). A snapshot references its drive's content image (one
/// reference, no data) and the drive's size then; its status changes only through
/// ``SnapshotLifecycle`` plans carried out by the interpreter.
public struct SQLSnapshotRepository: SnapshotRepository {
    let database: AppDatabase
    let env: WriteEnvironment

    init(database: AppDatabase, env: WriteEnvironment) {
        self.database = database
        self.env = env
    }

    static let columns = """
        s.seq, s.uuid, s.owner, d.uuid, s.name, s.meta, s.status, s.timestamp, s.size, s.media, s.storage_type,
        s.content_image, s.drive_seq
        """

    struct Stored {
        var seq: Int64
        var snapshot: Snapshot
        var media: DriveMedia
        var storageType: String
        var contentImage: Int64?
        var driveSeq: Int64
    }

    static func fetch(_ db: Database, where whereSQL: String, _ args: [any DatabaseValueConvertible], tail: String = "") throws
        -> [Stored]
    {
        let rows = try Row.fetchAll(
            db, sql: "SELECT \(columns) FROM snapshots s JOIN drives d ON d.seq = s.drive_seq WHERE \(whereSQL)\(tail)",
            arguments: StatementArguments(args))
        let tags = try Relations.tags(db, of: rows.map { $0[1] as String })
        return rows.map { row in
            let uuid: String = row[1]
            return Stored(
                seq: row[0],
                snapshot: Snapshot(
                    uuid: uuid, owner: row[2], drive: row[3], name: row[4], meta: Codec.decodeStringMap(row[5]),
                    status: SnapshotStatus(rawValue: row[6]) ?? .available, timestamp: row[7], tags: tags[uuid] ?? [], size: row[8]),
                media: DriveMedia(rawValue: row[9]) ?? .disk, storageType: row[10], contentImage: row[11], driveSeq: row[12])
        }
    }

    static func owned(_ db: Database, owner: String, uuid: String) throws -> Stored {
        guard let stored = try fetch(db, where: "s.uuid = ? AND s.owner = ?", [uuid, owner]).first else {
            throw CloudSigmaError.notExist(uuid)
        }
        return stored
    }

    // MARK: Create

    public func create(owner: String, specs: [SnapshotSpec], limits: SnapshotLimits, now: Date) async throws -> [Snapshot] {
        try await database.interpret(env, now: now, groupedFor: owner) { interpreter in
            let db = interpreter.db
            var made: [Snapshot] = []
            for spec in specs {
                guard let drive = try DriveRows.owned(db, owner: owner, uuid: spec.drive) else {
                    if try SQLLibraryRepository.exists(db, uuid: spec.drive) {
                        throw CloudSigmaError.permission("Library drive \(spec.drive) cannot be snapshotted; clone it first")
                    }
                    throw CloudSigmaError.notExist(spec.drive)
                }
                let context = try interpreter.driveContext(
                    seq: drive.seq, status: drive.drive.status, storageType: drive.drive.storageType, mounted: true)
                _ = try DriveLifecycle.plan(.snapshot, in: context).plan()
                let total = try Int.fetchOne(db.cachedStatement(sql: "SELECT COUNT(*) FROM snapshots WHERE owner = ?"), arguments: [owner]) ?? 0
                if total >= limits.max {
                    throw CloudSigmaError.permission("Maximum number of snapshots (\(limits.max)) reached")
                }
                let perDrive =
                    try Int.fetchOne(db.cachedStatement(sql: "SELECT COUNT(*) FROM snapshots WHERE drive_seq = ?"), arguments: [drive.seq]) ?? 0
                if perDrive >= limits.maxPerDrive {
                    throw CloudSigmaError.permission("Maximum number of snapshots per drive (\(limits.maxPerDrive)) reached")
                }
                let plan = SnapshotLifecycle.create
                let snapshot = Snapshot(
                    uuid: Identifiers.make(now: now), owner: owner, drive: spec.drive,
                    name: spec.name ?? SnapshotNaming.defaultName(drive: spec.drive, at: now), meta: spec.meta,
                    status: plan.status ?? .creating, timestamp: SnapshotNaming.timestamp(now), size: drive.drive.size)
                let seq = try Int64.fetchOne(db.cachedStatement(sql: """
                        INSERT INTO snapshots (uuid, owner, drive_seq, name, meta, status, size, media, storage_type,
                                               content_image, timestamp, created_at, updated_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq
                        """),
                    arguments: [
                        snapshot.uuid, owner, drive.seq, snapshot.name, Codec.encode(snapshot.meta), snapshot.status.rawValue,
                        snapshot.size, drive.drive.media.rawValue, drive.drive.storageType, drive.contentImage, snapshot.timestamp,
                        interpreter.stamp, interpreter.stamp,
                    ]) ?? 0
                var answered = snapshot
                if !spec.tags.isEmpty {
                    try Relations.setTags(db, owner: owner, resType: "snapshots", resUUID: snapshot.uuid, tagUUIDs: spec.tags)
                    answered.tags = try Relations.tags(db, of: snapshot.uuid)
                }
                if let operation = plan.schedule {
                    try interpreter.schedule(seq: seq, operation: operation, from: snapshot.status.rawValue, size: snapshot.size)
                }
                made.append(answered)
            }
            return made
        }
    }

    // MARK: Read

    public func snapshot(owner: String, uuid: String) async throws -> Snapshot {
        try await database.readNow { db in try Self.owned(db, owner: owner, uuid: uuid).snapshot }
    }

    public func list(owner: String, query: SnapshotQuery) async throws -> (total: Int, snapshots: [Snapshot]) {
        try await database.read { db in
            var (clauses, args) = query.filters.whereClauses(alias: "s", owner: owner)
            for group in query.drives where !group.isEmpty {
                clauses.append("d.uuid IN (\(Relations.placeholders(group.count)))")
                args += group as [any DatabaseValueConvertible]
            }
            let whereSQL = clauses.joined(separator: " AND ")
            let total =
                try Int.fetchOne(
                    db, sql: "SELECT COUNT(*) FROM snapshots s JOIN drives d ON d.seq = s.drive_seq WHERE \(whereSQL)",
                    arguments: StatementArguments(args)) ?? 0
            let order =
                query.order.isEmpty
                ? "s.seq DESC"
                : (query.order.map { "s.\($0.field == .timestamp ? "seq" : $0.field.rawValue) \($0.descending ? "DESC" : "ASC")" }
                    + ["s.seq DESC"]).joined(separator: ", ")
            var tail = " ORDER BY \(order)"
            tail += Relations.page(limit: query.filters.limit, offset: query.filters.offset)
            return (total, try Self.fetch(db, where: whereSQL, args, tail: tail).map(\.snapshot))
        }
    }

    public func count(owner: String) async throws -> Int {
        try await database.readNow { db in
            try Int.fetchOne(db.cachedStatement(sql: "SELECT COUNT(*) FROM snapshots WHERE owner = ?"), arguments: [owner]) ?? 0
        }
    }

    // MARK: Update and delete

    public func update(owner: String, changes: [SnapshotChanges], now: Date) async throws -> [Snapshot] {
        try await database.interpret(env, now: now, groupedFor: owner) { interpreter in
            let db = interpreter.db
            return try changes.map { change in
                let stored = try Self.owned(db, owner: owner, uuid: change.uuid)
                _ = try SnapshotLifecycle.plan(.edit, in: stored.snapshot.status).plan()
                if let drive = change.drive, drive != stored.snapshot.drive {
                    throw CloudSigmaError.validation("drive", "A snapshot's drive cannot be changed")
                }
                var next = stored.snapshot
                if let name = change.name { next.name = name }
                if let meta = change.meta { next.meta = meta }
                try db.run(
                    sql: "UPDATE snapshots SET name = ?, meta = ?, updated_at = ? WHERE seq = ?",
                    arguments: [next.name, Codec.encode(next.meta), interpreter.stamp, stored.seq])
                if let tags = change.tags {
                    try Relations.setTags(db, owner: owner, resType: "snapshots", resUUID: next.uuid, tagUUIDs: tags)
                    next.tags = try Relations.tags(db, of: next.uuid)
                }
                return next
            }
        }
    }

    public func delete(owner: String, uuids: [String]) async throws {
        try await database.interpret(env, now: Date(), groupedFor: owner) { interpreter in
            for uuid in uuids {
                let stored = try Self.owned(interpreter.db, owner: owner, uuid: uuid)
                guard let plan = try SnapshotLifecycle.plan(.delete, in: stored.snapshot.status).plan(), plan.remove else { continue }
                try interpreter.remove(.snapshot, seq: stored.seq, uuid: uuid, from: stored.snapshot.status.rawValue)
            }
        }
    }

    // MARK: Clone

    public func clone(owner: String, uuid: String, request: CloneRequest, avoid: [String], now: Date) async throws -> Drive {
        try await database.interpret(env, now: now, groupedFor: owner) { interpreter in
            let db = interpreter.db
            let stored = try Self.owned(db, owner: owner, uuid: uuid)
            guard let plan = try SnapshotLifecycle.plan(.clone, in: stored.snapshot.status).plan(), let spawn = plan.spawn else {
                throw CloudSigmaError.permission("Cannot clone snapshot \(uuid) now")
            }
            let source = try DriveRows.fetchStored(db, where: "d.seq = ?", [stored.driveSeq]).first
            // S2: the snapshot-time size (or bigger), the snapshot's name (through the profile's clone naming), the
            // drive's storage type and meta; media and affinities from the body.
            let limits = try DriveRules.limits(stored.storageType, in: interpreter.env.catalogue)
            let size = try DriveRules.cloneSize(request.size, sourceSize: stored.snapshot.size, limits: limits)
            let clone = Drive(
                uuid: Identifiers.make(now: now), owner: owner, name: try request.name ?? SQLDriveRepository.cloneName(interpreter, owner: owner, source: stored.snapshot.name),
                size: size,
                media: request.media ?? stored.media, storageType: stored.storageType, status: spawn.status,
                affinities: request.affinities ?? [], meta: source?.drive.meta ?? [:])
            return try SQLDriveRepository.insertSpawned(
                interpreter, spawn, clone, owner: owner, source: (stored.snapshot.resourceURI, nil), licensesFrozen: false,
                avoid: avoid, contentImage: stored.contentImage)
        }
    }
}
