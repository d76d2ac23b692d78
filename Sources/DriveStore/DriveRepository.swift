import DriveLifecycle
import DriveModel
import Foundation
import GRDB

/// Drives, their licenses and their pending transitions. Every method is one transaction: a
/// request either applies whole or not at all.
public struct DriveRepository: Sendable {
    let database: AppDatabase
    public let durations: OperationDurations
    public let catalogue: StorageCatalogue
    /// Simulated storage hosts drives are placed on (availability groups).
    public let hosts: Int
    /// Per-operation overrides of the durations (admin API); nil: durations only.
    public let control: TransitionControl?

    public init(
        database: AppDatabase, durations: OperationDurations, catalogue: StorageCatalogue = StorageCatalogue(), hosts: Int = 4,
        control: TransitionControl? = nil
    ) {
        self.control = control
        self.database = database
        self.durations = durations
        self.catalogue = catalogue
        self.hosts = max(1, hosts)
    }

    // MARK: Create

    /// Creates every drive in `specs` (all or nothing); each starts `creating` with a transition
    /// due after the create duration.
    public func create(owner: String, specs: [DriveSpec], avoid: [String] = [], now: Date = Date()) async throws -> [Drive] {
        let durations = self.durations, hosts = self.hosts, control = self.control
        return try await database.groupWrite(owner: owner) { db in
            let stamp = Timestamp.string(now)
            var created: [Drive] = []
            created.reserveCapacity(specs.count)
            for spec in specs {
                let licenses = try Self.resolveLicenses(db, spec.licenses)
                var drive = Drive(
                    uuid: Identifiers.timeOrdered(now: now), owner: owner, name: spec.name, size: spec.size,
                    media: spec.media, storageType: spec.storageType, status: .creating,
                    allowMultimount: spec.allowMultimount, affinities: spec.affinities, meta: spec.meta,
                    iops: spec.iops, licenses: licenses)
                let host = try Relations.placeHost(db, owner: owner, avoid: avoid, hosts: hosts)
                try db.run(
                    sql: """
                        INSERT INTO drives (uuid, owner, name, size, media, storage_type, status, allow_multimount,
                                            affinities, meta, iops, created_at, updated_at, host)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        drive.uuid, owner, drive.name, drive.size, drive.media.rawValue, drive.storageType,
                        drive.status.rawValue, drive.allowMultimount, Codec.encode(drive.affinities),
                        Codec.encode(drive.meta), drive.iops, stamp, stamp, host,
                    ])
                let seq = db.lastInsertedRowID
                try Self.insertLicenses(db, seq: seq, spec.licenses)
                if !spec.tags.isEmpty {
                    try Relations.setTags(db, owner: owner, resType: "drives", resUUID: drive.uuid, tagUUIDs: spec.tags)
                    drive.tags = try Relations.tags(db, of: drive.uuid)
                }
                try Self.schedule(
                    db, seq: seq, operation: .create, from: .creating,
                    due: Self.due(.create, size: spec.size, now: now, durations: durations, control: control))
                created.append(drive)
            }
            return created
        }
    }

    // MARK: Read

    /// The caller's drive `uuid`, or a library drive in drive shape (`owner: null`), or
    /// `404 notexist`.
    public func drive(owner: String, uuid: String) async throws -> Drive {
        // A lookup by primary key: read on the calling thread rather than hop to a reader queue
        // and back (two thread wake-ups that cost more than the query).
        try await database.readNow { db in
            if let drive = try Self.fetchDrives(db, where: "d.uuid = ? AND d.owner = ?", [uuid, owner], cached: true).first {
                return drive
            }
            if let library = try LibraryRepository.fetch(db, owner: owner, where: "uuid = ?", [uuid]).first {
                return library.asDrive
            }
            throw CloudSigmaError.notExist(uuid)
        }
    }

    /// Refuses changes to library drives (403), or answers 404 for unknown uuids.
    static func ownedDriveOrRefusal(_ db: Database, owner: String, uuid: String) throws -> Drive {
        if let drive = try fetchDrives(db, where: "d.uuid = ? AND d.owner = ?", [uuid, owner], cached: true).first { return drive }
        if try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM library_drives WHERE uuid = ?"), arguments: [uuid]) == true {
            throw CloudSigmaError.permission("Library drive \(uuid) cannot be changed; clone it into your account first")
        }
        throw CloudSigmaError.notExist(uuid)
    }

    /// One page of the caller's drives and the number of matches.
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
            let limit = query.limit.map { max(0, $0) } ?? -1
            let drives = try Self.fetchDrives(
                db, where: whereSQL, args + [limit, max(0, query.offset)], tail: tail,
                cached: unfiltered && query.order.count <= 2)
            return (total, drives)
        }
        return try await small ? database.readNow(listing) : database.read(listing)
    }

    // MARK: Update

    /// Applies one update (PUT or the resize action).
    public func update(owner: String, changes: DriveChanges, mode: UpdateMode, now: Date = Date()) async throws -> Drive {
        let durations = self.durations, catalogue = self.catalogue, control = self.control
        return try await database.groupWrite(owner: owner) { db in
            try Self.apply(
                db, owner: owner, changes: changes, mode: mode, now: now, durations: durations, catalogue: catalogue,
                control: control)
        }
    }

    /// Applies several updates in one transaction (decision 7): all or none.
    public func update(owner: String, bulk: [DriveChanges], now: Date = Date()) async throws -> [Drive] {
        let durations = self.durations, catalogue = self.catalogue, control = self.control
        return try await database.groupWrite(owner: owner) { db in
            try bulk.map {
                try Self.apply(
                    db, owner: owner, changes: $0, mode: .edit, now: now, durations: durations, catalogue: catalogue,
                    control: control)
            }
        }
    }

    static func apply(
        _ db: Database, owner: String, changes: DriveChanges, mode: UpdateMode, now: Date, durations: OperationDurations,
        catalogue: StorageCatalogue, control: TransitionControl?
    ) throws -> Drive {
        let current = try ownedDriveOrRefusal(db, owner: owner, uuid: changes.uuid)
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT seq, licenses_frozen FROM drives WHERE uuid = ?"), arguments: [changes.uuid])
        else { throw CloudSigmaError.notExist(changes.uuid) }
        let seq: Int64 = row["seq"]
        let licensesFrozen: Bool = row["licenses_frozen"]
        if let type = changes.storageType, type != current.storageType {
            throw CloudSigmaError.validation("storage_type", "Storage type cannot be changed after creation")
        }
        if changes.size < current.size {
            throw CloudSigmaError.validation(
                "size", "Drive size cannot be reduced: the drive has \(current.size) bytes, \(changes.size) requested")
        }
        if let limits = catalogue.limits(current.storageType), changes.size > limits.maxSize {
            throw CloudSigmaError.validation(
                "size", "Drive size \(changes.size) is above the maximum of \(limits.maxSize) bytes for storage type \(limits.name)")
        }
        let context = try lifecycleContext(db, seq: seq, status: current.status)
        var next = current
        // Always applicable (reference §3.6).
        next.name = changes.name
        if let meta = changes.meta { next.meta = meta }
        if let multimount = changes.allowMultimount { next.allowMultimount = multimount }

        var structural = current
        structural.media = changes.media
        if let affinities = changes.affinities { structural.affinities = affinities }
        if let iops = changes.iops { structural.iops = iops }
        let structuralChanged =
            structural.media != current.media || structural.affinities != current.affinities
            || structural.iops != current.iops
        var newLicenses: [LicenseRequest]? = nil
        // Licenses that came from the library stay bound to the drive (reference §3.6).
        if let licenses = changes.licenses, !licensesFrozen {
            let resolved = try resolveLicenses(db, licenses)
            if resolved != current.licenses { newLicenses = licenses }
        }
        let grows = changes.size > current.size
        var resize = false

        switch mode {
        case .edit:
            if structuralChanged {
                switch DriveLifecycle.decide(.editStructural, in: context) {
                case .proceed: next.media = structural.media; next.affinities = structural.affinities; next.iops = structural.iops
                case .ignore: break
                case .reject(let error): throw error
                }
            }
            if grows {
                switch DriveLifecycle.decide(.resizeByEdit, in: context) {
                case .proceed: resize = true
                case .ignore: break
                case .reject(let error): throw error
                }
            }
        case .resizeAction:
            if case .reject(let error) = DriveLifecycle.decide(.resize, in: context) { throw error }
            next.media = structural.media
            next.affinities = structural.affinities
            next.iops = structural.iops
            resize = true
        }
        if resize { next.status = .resizing }

        try db.run(
            sql: """
                UPDATE drives SET name = ?, media = ?, status = ?, allow_multimount = ?, affinities = ?, meta = ?,
                                  iops = ?, updated_at = ?
                WHERE seq = ? AND status = ?
                """,
            arguments: [
                next.name, next.media.rawValue, next.status.rawValue, next.allowMultimount, Codec.encode(next.affinities),
                Codec.encode(next.meta), next.iops, Timestamp.string(now), seq, current.status.rawValue,
            ])
        guard db.changesCount == 1 else { throw StoreError.conflict("drive \(current.uuid)") }
        if let newLicenses {
            try db.run(sql: "DELETE FROM drive_licenses WHERE drive_seq = ?", arguments: [seq])
            try insertLicenses(db, seq: seq, newLicenses)
            next.licenses = try resolveLicenses(db, newLicenses)
        }
        if let tags = changes.tags {
            try Relations.setTags(db, owner: owner, resType: "drives", resUUID: current.uuid, tagUUIDs: tags)
            next.tags = try Relations.tags(db, of: current.uuid)
        }
        if resize {
            // The answer still shows the old size; the new one appears when the resize completes.
            try schedule(
                db, seq: seq, operation: .resize, from: .resizing,
                due: Self.due(.resize, size: changes.size, now: now, durations: durations, control: control),
                payload: ["size": .int(changes.size)])
        }
        return next
    }

    // MARK: Delete

    /// Deletes the caller's drives `uuids` (all or nothing).
    public func delete(owner: String, uuids: [String]) async throws {
        try await database.groupWrite(owner: owner) { db in
            for uuid in uuids {
                let drive = try Self.ownedDriveOrRefusal(db, owner: owner, uuid: uuid)
                if case .reject(let error) = DriveLifecycle.decide(.delete, in: try Self.lifecycleContext(db, drive)) {
                    throw error
                }
                try db.run(
                    sql: "DELETE FROM drives WHERE uuid = ? AND status = ?", arguments: [uuid, drive.status.rawValue])
                guard db.changesCount == 1 else { throw StoreError.conflict("drive \(uuid)") }
            }
        }
    }

    // MARK: Transitions

    /// Completes every transition due at `now` (at most `limit`); returns the drives it moved.
    /// A clone's completion also finishes its job and returns the source to its resting status
    /// once no other clone copies from it.
    public func completeDueTransitions(now: Date = Date(), limit: Int = 500) async throws -> [String] {
        // Look first (a reader, an index probe): an idle worker takes no write lock.
        guard
            try await database.exists(
                sql: "SELECT 1 FROM transitions WHERE due_at <= ? LIMIT 1", arguments: [now.timeIntervalSince1970])
        else { return [] }
        let generation = database.generation
        return try await database.write { db in
            let due = try Row.fetchAll(db.cachedStatement(sql: """
                    SELECT t.drive_seq, t.operation, t.from_status, t.payload, t.source_seq, t.job_seq, d.uuid, d.status,
                           d.owner
                    FROM transitions t JOIN drives d ON d.seq = t.drive_seq
                    WHERE t.due_at <= ? ORDER BY t.due_at LIMIT ?
                    """),
                arguments: [now.timeIntervalSince1970, limit])
            let stamp = Timestamp.string(now)
            var moved: [String] = []
            // A transition changes its drive, the clone's source and job: all the owner's.
            generation.scopeCommit(to: Set(due.map { $0["owner"] as String }))
            for row in due {
                let seq: Int64 = row["drive_seq"]
                let statusRaw: String = row["status"]
                try db.run(sql: "DELETE FROM transitions WHERE drive_seq = ?", arguments: [seq])
                if let jobSeq: Int64 = row["job_seq"] {
                    try db.run(
                        sql: """
                            UPDATE jobs SET state = 'success', last_modified = ?, last_modified_at = ?
                            WHERE seq = ? AND state = 'started'
                            """,
                        arguments: [stamp, now.timeIntervalSince1970, jobSeq])
                }
                if statusRaw == row["from_status"] as String,
                    try Self.finishTransient(
                        db, seq: seq, status: statusRaw, payload: Codec.decodeObject(row["payload"]), stamp: stamp)
                {
                    moved.append(row["uuid"])
                }
                if let sourceSeq: Int64 = row["source_seq"],
                    let sourceStatus = try String.fetchOne(db.cachedStatement(sql: "SELECT status FROM drives WHERE seq = ?"), arguments: [sourceSeq]),
                    sourceStatus == DriveStatus.cloningSource.rawValue
                {
                    _ = try Self.finishTransient(db, seq: sourceSeq, status: sourceStatus, payload: [:], stamp: stamp)
                }
            }
            return moved
        }
    }

    /// Asks the state machine to complete the transient status of drive `seq`, and applies the
    /// answer as a compare-and-swap update. Returns whether the status changed.
    static func finishTransient(
        _ db: Database, seq: Int64, status statusRaw: String, payload: [String: JSONValue], stamp: String
    ) throws -> Bool {
        guard let status = DriveStatus(rawValue: statusRaw) else { return false }
        let context = try lifecycleContext(db, seq: seq, status: status)
        guard case .proceed(let target) = DriveLifecycle.decide(.complete, in: context), let target else { return false }
        if case .int(let size)? = payload["size"] {
            try db.run(
                sql: "UPDATE drives SET status = ?, updated_at = ?, size = ? WHERE seq = ? AND status = ?",
                arguments: [target.rawValue, stamp, size, seq, statusRaw])
        } else {
            try db.run(
                sql: "UPDATE drives SET status = ?, updated_at = ? WHERE seq = ? AND status = ?",
                arguments: [target.rawValue, stamp, seq, statusRaw])
        }
        return db.changesCount == 1
    }

    /// When the next transition falls due (unix seconds), or nil when none is pending.
    public func nextTransitionDue() async throws -> Double? {
        try await database.read { db in try Double.fetchOne(db.cachedStatement(sql: "SELECT MIN(due_at) FROM transitions")) }
    }

    /// How many transitions are pending.
    public func pendingTransitionCount() async throws -> Int {
        try await database.read { db in try Int.fetchOne(db.cachedStatement(sql: "SELECT COUNT(*) FROM transitions")) ?? 0 }
    }

    // MARK: Licenses

    /// The license catalogue, ordered by name.
    public func licenses(limit: Int?, offset: Int) async throws -> (total: Int, licenses: [License]) {
        try await database.read { db in
            let total = try Int.fetchOne(db.cachedStatement(sql: "SELECT COUNT(*) FROM licenses")) ?? 0
            var sql = "SELECT * FROM licenses ORDER BY name"
            if let limit { sql += " LIMIT \(max(0, limit)) OFFSET \(max(0, offset))" } else if offset > 0 {
                sql += " LIMIT -1 OFFSET \(offset)"
            }
            return (total, try Row.fetchAll(db, sql: sql).map(Self.license))
        }
    }

    /// License `id`, or nil.
    public func license(id: Int64) async throws -> License? {
        try await database.read { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM licenses WHERE id = ?"), arguments: [id]).map(Self.license)
        }
    }

    /// Looks licenses up by numeric id or by name; nil where none matches.
    public func licenseID(forReference reference: String) async throws -> Int64? {
        try await database.read { db in
            if let id = Int64(reference) {
                return try Int64.fetchOne(db.cachedStatement(sql: "SELECT id FROM licenses WHERE id = ?"), arguments: [id])
            }
            return try Int64.fetchOne(db.cachedStatement(sql: "SELECT id FROM licenses WHERE name = ?"), arguments: [reference])
        }
    }

    // MARK: Helpers

    static func license(_ row: Row) -> License {
        License(
            id: row["id"], name: row["name"], longName: row["long_name"], type: row["type"],
            userMetric: row["user_metric"], burstable: row["burstable"])
    }

    static func resolveLicenses(_ db: Database, _ requests: [LicenseRequest]) throws -> [DriveLicense] {
        try requests.enumerated().map { index, request in
            guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM licenses WHERE id = ?"), arguments: [request.licenseID])
            else {
                throw CloudSigmaError.validation("licenses", "License \(request.licenseID) does not exist (item \(index))")
            }
            return DriveLicense(amount: request.amount, license: license(row))
        }
    }

    static func insertLicenses(_ db: Database, seq: Int64, _ requests: [LicenseRequest]) throws {
        for (position, request) in requests.enumerated() {
            try db.run(
                sql: "INSERT INTO drive_licenses (drive_seq, position, license_id, amount) VALUES (?, ?, ?, ?)",
                arguments: [seq, position, request.licenseID, request.amount])
        }
    }

    /// When a transition of `operation` started now falls due: the admin mode if one is set,
    /// otherwise the configured duration.
    static func due(
        _ operation: OperationDurations.Kind, size: Int64, now: Date, durations: OperationDurations, control: TransitionControl?
    ) -> Double {
        let configured = durations.seconds(operation, size: size)
        guard let control, let op = TransitionControl.Operation(rawValue: operation.rawValue) else {
            return now.timeIntervalSince1970 + configured
        }
        return control.due(op, now: now, configured: configured)
    }

    static func schedule(
        _ db: Database, seq: Int64, operation: OperationDurations.Kind, from: DriveStatus, due: Double,
        payload: [String: JSONValue] = [:]
    ) throws {
        try db.run(
            sql: """
                INSERT OR REPLACE INTO transitions (drive_seq, operation, from_status, due_at, payload)
                VALUES (?, ?, ?, ?, ?)
                """,
            arguments: [seq, operation.rawValue, from.rawValue, due, JSONValue.object(payload).jsonString])
    }

    /// What the state machine needs about a drive. Mounts join here when servers exist.
    static func lifecycleContext(_ db: Database, _ drive: Drive) throws -> DriveLifecycle.Context {
        guard let seq = try Int64.fetchOne(db.cachedStatement(sql: "SELECT seq FROM drives WHERE uuid = ?"), arguments: [drive.uuid]) else {
            return DriveLifecycle.Context(status: drive.status)
        }
        return try lifecycleContext(db, seq: seq, status: drive.status)
    }

    static func lifecycleContext(_ db: Database, seq: Int64, status: DriveStatus) throws -> DriveLifecycle.Context {
        let mounts = try Relations.mountSummary(db, driveSeq: seq)
        var context = DriveLifecycle.Context(status: status, mountCount: mounts.count, onRunningServer: mounts.running)
        if status == .cloningSource {
            context.activeClonesFromHere =
                try Int.fetchOne(db.cachedStatement(sql: "SELECT COUNT(*) FROM transitions WHERE source_seq = ?"), arguments: [seq]) ?? 0
        }
        return context
    }

    static func escapeLike(_ s: String) -> String {
        var out = ""
        for c in s {
            if c == "%" || c == "_" || c == "\\" { out.append("\\") }
            out.append(c)
        }
        return out
    }

    /// The columns of drive queries, read by index in `fetchDrives`. The four flags tell which
    /// related rows exist, so the common drive (no license, job, mount or tag) costs one statement.
    static let driveColumns = """
        d.seq, d.uuid, d.owner, d.name, d.size, d.media, d.storage_type, d.status, d.allow_multimount,
        d.affinities, d.meta, d.iops,
        EXISTS(SELECT 1 FROM drive_licenses x WHERE x.drive_seq = d.seq),
        EXISTS(SELECT 1 FROM drive_jobs x WHERE x.drive_seq = d.seq),
        EXISTS(SELECT 1 FROM server_drives x WHERE x.drive_seq = d.seq),
        EXISTS(SELECT 1 FROM tag_resources x WHERE x.res_uuid = d.uuid)
        """

    /// Drives matching `whereSQL` (over alias `d`), related rows included. `cached`: the SQL text
    /// comes from a small fixed set, so its prepared statement is kept for the next request.
    static func fetchDrives(
        _ db: Database, where whereSQL: String, _ args: [any DatabaseValueConvertible], tail: String = "",
        cached: Bool = false
    ) throws -> [Drive] {
        let sql = "SELECT \(driveColumns) FROM drives d WHERE \(whereSQL)\(tail)"
        let statement = cached ? try db.cachedStatement(sql: sql) : try db.makeStatement(sql: sql)
        let cursor = try Row.fetchCursor(statement, arguments: StatementArguments(args))
        var drives: [Drive] = []
        var related: [(index: Int, seq: Int64, licenses: Bool, jobs: Bool, mounts: Bool, tags: Bool)] = []
        while let row = try cursor.next() {
            let seq: Int64 = row[0]
            let flags = (licenses: row[12] as Bool, jobs: row[13] as Bool, mounts: row[14] as Bool, tags: row[15] as Bool)
            if flags.licenses || flags.jobs || flags.mounts || flags.tags {
                related.append((drives.count, seq, flags.licenses, flags.jobs, flags.mounts, flags.tags))
            }
            drives.append(
                Drive(
                    uuid: row[1], owner: row[2], name: row[3], size: row[4],
                    media: DriveMedia(rawValue: row[5]) ?? .disk, storageType: row[6],
                    status: DriveStatus(rawValue: row[7]) ?? .unavailable,
                    allowMultimount: row[8], affinities: Codec.decodeStrings(row[9]),
                    meta: Codec.decodeStringMap(row[10]), iops: row[11]))
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
        }
        return drives
    }
}

/// JSON columns.
enum Codec {
    static func encode(_ strings: [String]) -> String {
        JSONValue.array(strings.map(JSONValue.string)).jsonString
    }

    static func encode(_ map: [String: String]) -> String {
        JSONValue.object(map.mapValues(JSONValue.string)).jsonString
    }

    static func decode(_ text: String) -> JSONValue? {
        try? JSONParser.parse(text)
    }

    static func decodeStrings(_ text: String) -> [String] {
        if text == "[]" { return [] }
        return decode(text)?.arrayValue?.compactMap(\.stringValue) ?? []
    }

    static func decodeStringMap(_ text: String) -> [String: String] {
        if text == "{}" { return [:] }
        return decode(text)?.objectValue?.compactMapValues(\.stringValue) ?? [:]
    }

    static func decodeObject(_ text: String) -> [String: JSONValue] {
        decode(text)?.objectValue ?? [:]
    }
}
