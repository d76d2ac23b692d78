import DriveLifecycle
import DriveModel
import DriveStorage
import Foundation
#if !POSTGRES
import GRDB
#endif

/// Drives in SQLite. Every method is one transaction; writes share transactions with concurrent
/// writes (group commit) and answer only after the commit. Statuses change only through plans.
public struct SQLDriveRepository: DriveRepository {
    let database: AppDatabase
    let env: WriteEnvironment

    init(database: AppDatabase, env: WriteEnvironment) {
        self.database = database
        self.env = env
    }

    // MARK: Create

    public func create(owner: String, specs: [DriveSpec], avoid: [String], now: Date) async throws -> [Drive] {
        try await database.interpret(env, now: now, groupedFor: owner) { interpreter in
            // What bulk loads send (drives with neither tags nor licenses) goes in multi-row
            // statements: each statement with triggers ends by cutting SQLite's in-memory
            // sub-journal back, a walk along it, so one statement a drive made a bulk create
            // quadratic in its size.
            if specs.count > 1, specs.allSatisfy({ $0.tags.isEmpty && $0.licenses.isEmpty }) {
                return try Self.insertMany(interpreter, owner: owner, specs: specs, avoid: avoid)
            }
            return try specs.map { try Self.insert(interpreter, owner: owner, spec: $0, avoid: avoid) }
        }
    }

    /// Rows a multi-row INSERT carries at most (16 values a row: 1,600 variables).
    static let rowsPerStatement = 100

    /// `insert` for many drives without tags or licenses: the same rows, hosts, statuses and
    /// pending transitions, in one INSERT a hundred drives (and one for their transitions).
    static func insertMany(_ interpreter: PlanInterpreter, owner: String, specs: [DriveSpec], avoid: [String]) throws -> [Drive] {
        let db = interpreter.db
        let plan = DriveLifecycle.create
        let hosts = try Relations.placeHosts(db, owner: owner, avoid: avoid, hosts: interpreter.env.hosts, count: specs.count)
        var drives: [Drive] = []
        drives.reserveCapacity(specs.count)
        for start in stride(from: 0, to: specs.count, by: rowsPerStatement) {
            let part = specs[start..<min(start + rowsPerStatement, specs.count)]
            var arguments: [(any DatabaseValueConvertible)?] = []
            arguments.reserveCapacity(part.count * 16)
            var made: [Drive] = []
            var completed: [Bool] = []
            for (offset, spec) in part.enumerated() {
                let drive = newDrive(interpreter, owner: owner, spec: spec, licenses: [])
                let stored = interpreter.completedCreation(of: drive)
                arguments += rowValues(
                    drive, host: hosts[start + offset], licensesFrozen: false, stamp: interpreter.stamp, status: stored)
                made.append(drive)
                completed.append(stored != nil)
            }
            let rows = Array(repeating: rowPlaceholders, count: part.count).joined(separator: ", ")
            let scheduled = zip(made, completed).filter { !$0.1 }.map(\.0)
            if let operation = plan.schedule, !scheduled.isEmpty {
                // RETURNING answers in no promised order: match the seqs by uuid.
                let returned = try Row.fetchAll(
                    db.cachedStatement(sql: "\(insertInto) VALUES \(rows) RETURNING uuid, seq"), arguments: StatementArguments(arguments))
                var seqs: [String: Int64] = [:]
                for row in returned { seqs[row["uuid"]] = row["seq"] }
                try interpreter.scheduleNew(
                    scheduled.map { (seq: seqs[$0.uuid]!, from: $0.status.rawValue, size: $0.size) }, operation: operation)
            } else {
                // No transition to schedule (every create completed in this transaction): nothing
                // needs the seqs, and SQLite's RETURNING would cost an eighth of the insert (see
                // `insertRow`).
                try db.cachedStatement(sql: "\(insertInto) VALUES \(rows)").execute(arguments: StatementArguments(arguments))
            }
            drives += made
        }
        return drives
    }

    static func insert(_ interpreter: PlanInterpreter, owner: String, spec: DriveSpec, avoid: [String]) throws -> Drive {
        let db = interpreter.db
        let plan = DriveLifecycle.create
        let licenses = try SQLLicenseRepository.resolveLicenses(db, spec.licenses)
        var drive = newDrive(interpreter, owner: owner, spec: spec, licenses: licenses)
        let host = try Relations.placeHost(db, owner: owner, avoid: avoid, hosts: interpreter.env.hosts)
        let stored = interpreter.completedCreation(of: drive)
        let seq = try insertRow(db, drive, host: host, licensesFrozen: false, stamp: interpreter.stamp, status: stored)
        try SQLLicenseRepository.insertLicenses(db, seq: seq, spec.licenses)
        if !spec.tags.isEmpty {
            try Relations.setTags(db, owner: owner, resType: "drives", resUUID: drive.uuid, tagUUIDs: spec.tags)
            drive.tags = try Relations.tags(db, of: drive.uuid)
        }
        if stored == nil, let operation = plan.schedule {
            try interpreter.schedule(seq: seq, operation: operation, from: drive.status.rawValue, size: drive.size)
        }
        return drive
    }

    /// Inserts the row of a new drive; returns its seq.
    /// `contentImage`: the image the drive holds (a clone's source's); nil reads as zeros. The
    /// image's reference count follows through a trigger. `status`: the status stored, when it is
    /// not the drive's (a creation completed in its own transaction).
    static func insertRow(
        _ db: Database, _ drive: Drive, host: Int, licensesFrozen: Bool, stamp: String, contentImage: Int64? = nil,
        status: DriveStatus? = nil
    ) throws -> Int64 {
        let arguments = StatementArguments(
            rowValues(drive, host: host, licensesFrozen: licensesFrozen, stamp: stamp, contentImage: contentImage, status: status))
        #if POSTGRES
        return try Int64.fetchOne(db.cachedStatement(sql: "\(insertInto) VALUES \(rowPlaceholders) RETURNING seq"), arguments: arguments)
            ?? 0
        #else
        // SQLite's RETURNING costs an eighth of the insert (the row goes through an ephemeral
        // table first; Benchmarks/README.md, round 3). The connection knows the rowid it just
        // inserted: triggers' inserts do not change it once they have ended.
        try db.cachedStatement(sql: "\(insertInto) VALUES \(rowPlaceholders)").execute(arguments: arguments)
        return db.lastInsertedRowID
        #endif
    }

    /// The condition of the partial index by status (migration 0014, `drives_status_not_unmounted`)
    /// over `column`, as the index states it: SQLite uses a partial index only for a query that
    /// names its condition (a constant, not a parameter).
    static func notUnmounted(_ column: String) -> String { "\(column) <> 'unmounted'" }

    /// The INSERT of drive rows, without its VALUES; `rowPlaceholders` is one row's, and
    /// `rowValues` its values, in that order.
    static let insertInto = """
        INSERT INTO drives (uuid, owner, name, size, media, storage_type, status, allow_multimount,
                            affinities, meta, iops, created_at, updated_at, host, licenses_frozen, content_image)
        """
    static let rowPlaceholders = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

    static func rowValues(
        _ drive: Drive, host: Int, licensesFrozen: Bool, stamp: String, contentImage: Int64? = nil, status: DriveStatus? = nil
    ) -> [(any DatabaseValueConvertible)?] {
        [
            drive.uuid, drive.owner, drive.name, drive.size, drive.media.rawValue, drive.storageType, (status ?? drive.status).rawValue,
            drive.allowMultimount, Codec.encode(drive.affinities), Codec.encode(drive.meta), drive.iops, stamp, stamp, host,
            licensesFrozen, contentImage,
        ]
    }

    /// A new drive of `spec`, in the status a create gives it.
    static func newDrive(_ interpreter: PlanInterpreter, owner: String, spec: DriveSpec, licenses: [DriveLicense]) -> Drive {
        Drive(
            uuid: Identifiers.make(now: interpreter.now), owner: owner, name: spec.name, size: spec.size, media: spec.media,
            storageType: spec.storageType, status: DriveLifecycle.create.status ?? .creating, allowMultimount: spec.allowMultimount,
            affinities: spec.affinities, meta: spec.meta, iops: spec.iops, licenses: licenses)
    }

    // MARK: Read

    public func drive(owner: String, uuid: String) async throws -> Drive {
        // A lookup by primary key: read on the calling thread rather than hop to a reader queue
        // and back (two thread wake-ups that cost more than the query).
        try await database.readNow { db in
            if let drive = try DriveRows.fetchDrives(db, where: "d.uuid = ? AND d.owner = ?", [uuid, owner], cached: true).first {
                return drive
            }
            if let library = try SQLLibraryRepository.fetch(db, owner: owner, uuid: uuid) {
                return library.asDrive
            }
            throw CloudSigmaError.notExist(uuid)
        }
    }

    /// The owner's drive `uuid`; a refusal (403) for library drives, 404 for unknown uuids.
    static func ownedOrRefusal(_ db: Database, owner: String, uuid: String) throws -> DriveRows.Stored {
        if let stored = try DriveRows.owned(db, owner: owner, uuid: uuid) { return stored }
        if try SQLLibraryRepository.exists(db, uuid: uuid) {
            throw CloudSigmaError.permission("Library drive \(uuid) cannot be changed; clone it into your account first")
        }
        throw CloudSigmaError.notExist(uuid)
    }

    public func list(owner: String, query: DriveQuery) async throws -> (total: Int, drives: [Drive]) {
        // A small page walks an index for a few rows: read on the calling thread. Anything that
        // may scan (filters, big pages, far offsets) goes to a reader queue.
        let small = query.isUnfiltered && query.order.isEmpty && (query.limit ?? .max) <= 100 && query.offset <= 1000
        @Sendable func listing(_ db: Database) throws -> (total: Int, drives: [Drive]) {
            let (clauses, args) = query.whereClauses(alias: "d", owner: owner)
            let whereSQL = clauses.joined(separator: " AND ")
            let unfiltered = clauses.count == 1
            // Unfiltered: the count the triggers keep (O(1)); filtered: count the matches.
            let total =
                unfiltered
                ? try Int.fetchOne(
                    db.cachedStatement(sql: "SELECT drives FROM owner_drive_counts WHERE owner = ?"), arguments: [owner]) ?? 0
                : try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM drives d WHERE \(whereSQL)", arguments: StatementArguments(args)) ?? 0
            var order = query.order.map { "d.\($0.field.rawValue) \($0.descending ? "DESC" : "ASC")" }
            order.append("d.seq ASC")
            // LIMIT and OFFSET are arguments, so the SQL of an unfiltered page has a handful of
            // shapes and its prepared statement is reused.
            let tail = " ORDER BY " + order.joined(separator: ", ") + " LIMIT ? OFFSET ?"
            // No limit: the largest (PostgreSQL refuses SQLite's -1).
            let limit = query.limit.map { max(0, $0) } ?? Int.max
            let drives = try DriveRows.fetchDrives(
                db, where: whereSQL, args + [limit, max(0, query.offset)], tail: tail,
                cached: unfiltered && query.order.count <= 2)
            return (total, drives)
        }
        return try await small ? database.readNow(listing) : database.read(listing)
    }

    // MARK: Update

    public func update(owner: String, changes: DriveChanges, mode: UpdateMode, now: Date) async throws -> Drive {
        try await database.interpret(env, now: now, groupedFor: owner) { interpreter in
            try Self.apply(interpreter, owner: owner, changes: changes, mode: mode)
        }
    }

    public func update(owner: String, bulk: [DriveChanges], now: Date) async throws -> [Drive] {
        try await database.interpret(env, now: now, groupedFor: owner) { interpreter in
            try bulk.map { try Self.apply(interpreter, owner: owner, changes: $0, mode: .edit) }
        }
    }

    /// One PUT or resize: the rules check the request against the stored drive, the state machine
    /// plans what applies, the interpreter writes it.
    static func apply(_ interpreter: PlanInterpreter, owner: String, changes: DriveChanges, mode: UpdateMode) throws -> Drive {
        let db = interpreter.db
        let stored = try ownedOrRefusal(db, owner: owner, uuid: changes.uuid)
        let current = stored.drive
        try DriveRules.checkUpdate(
            current: current, size: changes.size, storageType: changes.storageType, catalogue: interpreter.env.catalogue)

        var structural = current
        structural.media = changes.media
        if let affinities = changes.affinities { structural.affinities = affinities }
        if let iops = changes.iops { structural.iops = iops }
        let structuralChanged =
            structural.media != current.media || structural.affinities != current.affinities
            || structural.iops != current.iops
        var newLicenses: [LicenseRequest]? = nil
        // Licenses that came from the library stay bound to the drive (reference §3.6).
        if let licenses = changes.licenses, !stored.licensesFrozen {
            let resolved = try SQLLicenseRepository.resolveLicenses(db, licenses)
            if resolved != current.licenses { newLicenses = licenses }
        }
        let grows = changes.size > current.size

        var context = try interpreter.driveContext(seq: stored.seq, status: current.status, storageType: current.storageType)
        context.keepsSize = changes.size == current.size
        let outcome: Outcome<DrivePlan> =
            switch mode {
            case .edit: DriveLifecycle.planEdit(structural: structuralChanged, grows: grows, in: context)
            case .resizeAction: DriveLifecycle.plan(.resize, in: context)
            }
        let plan = try outcome.plan() ?? DrivePlan()

        var next = current
        // Always applicable (reference §3.6).
        next.name = changes.name
        if let meta = changes.meta { next.meta = meta }
        if let multimount = changes.allowMultimount { next.allowMultimount = multimount }
        if plan.applyStructural {
            next.media = structural.media
            next.affinities = structural.affinities
            next.iops = structural.iops
        }
        // The answer shows the new status but the old size: the new one appears when the resize
        // completes.
        next.status = try interpreter.carryOut(
            plan, on: stored.row,
            sets: [
                ("name", next.name), ("media", next.media.rawValue), ("allow_multimount", next.allowMultimount),
                ("affinities", Codec.encode(next.affinities)), ("meta", Codec.encode(next.meta)), ("iops", next.iops),
            ],
            payload: ["size": .int(changes.size)], transitionSize: changes.size)
        if let newLicenses {
            try db.run(sql: "DELETE FROM drive_licenses WHERE drive_seq = ?", arguments: [stored.seq])
            try SQLLicenseRepository.insertLicenses(db, seq: stored.seq, newLicenses)
            next.licenses = try SQLLicenseRepository.resolveLicenses(db, newLicenses)
        }
        if let tags = changes.tags {
            try Relations.setTags(db, owner: owner, resType: "drives", resUUID: current.uuid, tagUUIDs: tags)
            next.tags = try Relations.tags(db, of: current.uuid)
        }
        return next
    }

    // MARK: Delete

    public func delete(owner: String, uuids: [String]) async throws {
        try await database.interpret(env, now: Date(), groupedFor: owner) { interpreter in
            for uuid in uuids {
                let stored = try Self.ownedOrRefusal(interpreter.db, owner: owner, uuid: uuid)
                try interpreter.apply(.delete, to: stored.row)
            }
        }
    }

    // MARK: Availability groups

    public func availabilityGroups(owner: String) async throws -> [[String]] {
        try await database.read { db in
            var groups: [Int: [String]] = [:]
            for row in try Row.fetchAll(
                db.cachedStatement(sql: "SELECT host, uuid FROM drives WHERE owner = ? ORDER BY host, seq"), arguments: [owner])
            {
                groups[row["host"], default: []].append(row["uuid"])
            }
            return groups.keys.sorted().compactMap { groups[$0]!.count >= 2 ? groups[$0] : nil }
        }
    }

    public func availabilityGroup(owner: String, uuid: String) async throws -> [String] {
        try await database.read { db in
            guard
                let host = try Int.fetchOne(
                    db.cachedStatement(sql: "SELECT host FROM drives WHERE uuid = ? AND owner = ?"), arguments: [uuid, owner])
            else { throw CloudSigmaError.notExist(uuid) }
            return try String.fetchAll(
                db.cachedStatement(sql: "SELECT uuid FROM drives WHERE owner = ? AND host = ? ORDER BY seq"), arguments: [owner, host])
        }
    }

    static func escapeLike(_ s: String) -> String {
        var out = ""
        for c in s {
            if c == "%" || c == "_" || c == "\\" { out.append("\\") }
            out.append(c)
        }
        return out
    }
}
