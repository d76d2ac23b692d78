import DriveLifecycle
import DriveModel
import Foundation
import GRDB

/// A validated mount point of a server PUT or create: the model's mount point.
public typealias MountRequest = ServerDrive

/// A validated server definition. On update, nil keeps the stored value.
public struct ServerSpec: Sendable, Equatable {
    public var name: String
    public var cpu: Int64
    public var mem: Int64
    public var vncPassword: String
    public var meta: [String: String]?
    public var extra: [String: JSONValue]
    public var drives: [MountRequest]?
    public var tags: [String]?

    public init(
        name: String, cpu: Int64, mem: Int64, vncPassword: String, meta: [String: String]? = nil,
        extra: [String: JSONValue] = [:], drives: [MountRequest]? = nil, tags: [String]? = nil
    ) {
        self.name = name
        self.cpu = cpu
        self.mem = mem
        self.vncPassword = vncPassword
        self.meta = meta
        self.extra = extra
        self.drives = drives
        self.tags = tags
    }
}

/// Which attached drives a server delete takes with it (`?recurse=`).
public enum ServerDeleteRecurse: String, Sendable {
    case none
    case allDrives = "all_drives"
    case disks
    case cdroms
}

/// Servers as mount targets: their `drives` lists are the mounts that make drives `mounted`.
public struct ServerRepository: Sendable {
    let database: AppDatabase
    let durations: ServerDurations
    /// Whether `drives` changes apply to running servers (decision 6).
    let hotplug: Bool

    public struct ServerDurations: Sendable, Equatable {
        public var startSeconds: Double
        public var stopSeconds: Double
        public var timeScale: Double

        public init(startSeconds: Double = 1, stopSeconds: Double = 1, timeScale: Double = 1) {
            self.startSeconds = startSeconds
            self.stopSeconds = stopSeconds
            self.timeScale = timeScale
        }
    }

    /// Per-operation overrides (admin API).
    let control: TransitionControl?

    public init(
        database: AppDatabase, durations: ServerDurations = ServerDurations(), hotplug: Bool = true,
        control: TransitionControl? = nil
    ) {
        self.control = control
        self.database = database
        self.durations = durations
        self.hotplug = hotplug
    }

    // MARK: Read

    public func server(owner: String, uuid: String) async throws -> Server {
        try await database.read { db in
            guard let server = try Self.fetch(db, where: "s.uuid = ? AND s.owner = ?", [uuid, owner]).first else {
                throw CloudSigmaError.notExist(uuid)
            }
            return server
        }
    }

    public func list(owner: String, query: DriveQuery) async throws -> (total: Int, servers: [Server]) {
        try await database.read { db in
            let (clauses, args) = query.whereClauses(alias: "s", owner: owner)
            let whereSQL = clauses.joined(separator: " AND ")
            let total = try Int.fetchOne(
                db, sql: "SELECT COUNT(*) FROM servers s WHERE \(whereSQL)", arguments: StatementArguments(args)) ?? 0
            var order = query.order.map { "s.\($0.field.rawValue) \($0.descending ? "DESC" : "ASC")" }
            order.append("s.seq ASC")
            var tail = " ORDER BY " + order.joined(separator: ", ")
            if let limit = query.limit { tail += " LIMIT \(max(0, limit)) OFFSET \(max(0, query.offset))" } else if query.offset > 0 {
                tail += " LIMIT -1 OFFSET \(query.offset)"
            }
            return (total, try Self.fetch(db, where: whereSQL, args, tail: tail))
        }
    }

    // MARK: Write

    /// Creates servers (all or nothing), stopped, with their drives mounted.
    public func create(owner: String, specs: [ServerSpec], now: Date = Date()) async throws -> [Server] {
        try await database.write { db in
            let stamp = Timestamp.string(now)
            var uuids: [String] = []
            for spec in specs {
                let uuid = UUID().uuidString.lowercased()
                try db.run(
                    sql: """
                        INSERT INTO servers (uuid, owner, name, cpu, mem, vnc_password, status, meta, extra, created_at, updated_at)
                        VALUES (?, ?, ?, ?, ?, ?, 'stopped', ?, ?, ?, ?)
                        """,
                    arguments: [
                        uuid, owner, spec.name, spec.cpu, spec.mem, spec.vncPassword, Codec.encode(spec.meta ?? [:]),
                        JSONValue.object(spec.extra).jsonString, stamp, stamp,
                    ])
                let seq = db.lastInsertedRowID
                try Self.setMounts(db, owner: owner, serverSeq: seq, mounts: spec.drives ?? [], stamp: stamp)
                if let tags = spec.tags {
                    try Relations.setTags(db, owner: owner, resType: "servers", resUUID: uuid, tagUUIDs: tags)
                }
                uuids.append(uuid)
            }
            return try uuids.map { uuid in
                try Self.fetch(db, where: "s.uuid = ?", [uuid]).first!
            }
        }
    }

    /// PUT: a running server changes only `name`, `meta` and `tags` (and `drives` when hot-plug is
    /// on); the rest is silently ignored (reference §6.1).
    public func update(owner: String, uuid: String, spec: ServerSpec, now: Date = Date()) async throws -> Server {
        let hotplug = self.hotplug
        return try await database.write { db in
            guard let current = try Self.fetch(db, where: "s.uuid = ? AND s.owner = ?", [uuid, owner]).first,
                let seq = try Int64.fetchOne(db.cachedStatement(sql: "SELECT seq FROM servers WHERE uuid = ?"), arguments: [uuid])
            else { throw CloudSigmaError.notExist(uuid) }
            let stamp = Timestamp.string(now)
            let structural = ServerLifecycle.decide(.editStructural, in: current.status)
            var sets = ["name = ?", "updated_at = ?"]
            var args: [any DatabaseValueConvertible] = [spec.name, stamp]
            if let meta = spec.meta {
                sets.append("meta = ?")
                args.append(Codec.encode(meta))
            }
            if case .proceed = structural {
                sets += ["cpu = ?", "mem = ?", "vnc_password = ?", "extra = ?"]
                args += [spec.cpu, spec.mem, spec.vncPassword, JSONValue.object(current.extra.merging(spec.extra) { $1 }).jsonString]
            }
            args += [seq, current.status.rawValue] as [any DatabaseValueConvertible]
            try db.execute(
                sql: "UPDATE servers SET \(sets.joined(separator: ", ")) WHERE seq = ? AND status = ?",
                arguments: StatementArguments(args))
            guard db.changesCount == 1 else { throw StoreError.conflict("server \(uuid)") }
            if let mounts = spec.drives, structural == .proceed(to: nil) || hotplug {
                try Self.setMounts(db, owner: owner, serverSeq: seq, mounts: mounts, stamp: stamp)
            }
            if let tags = spec.tags {
                try Relations.setTags(db, owner: owner, resType: "servers", resUUID: uuid, tagUUIDs: tags)
            }
            return try Self.fetch(db, where: "s.seq = ?", [seq]).first!
        }
    }

    /// Deletes a stopped server; its drives become `unmounted` (or are deleted with `recurse`).
    public func delete(owner: String, uuid: String, recurse: ServerDeleteRecurse, now: Date = Date()) async throws {
        try await database.write { db in
            guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT seq, status FROM servers WHERE uuid = ? AND owner = ?"), arguments: [uuid, owner]),
                let status = ServerStatus(rawValue: row["status"])
            else { throw CloudSigmaError.notExist(uuid) }
            if case .reject(let error) = ServerLifecycle.decide(.delete, in: status) { throw error }
            let seq: Int64 = row["seq"]
            let attached = try Row.fetchAll(db.cachedStatement(sql: """
                    SELECT DISTINCT d.seq, d.uuid, d.media FROM server_drives sd JOIN drives d ON d.seq = sd.drive_seq
                    WHERE sd.server_seq = ?
                    """),
                arguments: [seq])
            try db.run(sql: "DELETE FROM servers WHERE seq = ?", arguments: [seq])
            let stamp = Timestamp.string(now)
            for drive in attached {
                let media: String = drive["media"]
                let remove: Bool =
                    switch recurse {
                    case .none: false
                    case .allDrives: true
                    case .disks: media == DriveMedia.disk.rawValue
                    case .cdroms: media == DriveMedia.cdrom.rawValue
                    }
                let driveSeq: Int64 = drive["seq"]
                if remove {
                    guard let raw = try String.fetchOne(db.cachedStatement(sql: "SELECT status FROM drives WHERE seq = ?"), arguments: [driveSeq]),
                        let driveStatus = DriveStatus(rawValue: raw)
                    else { continue }
                    var context = try DriveRepository.lifecycleContext(db, seq: driveSeq, status: driveStatus)
                    // The server itself is gone: what matters is the drive's other mounts.
                    if driveStatus == .mounted && context.mountCount == 0 { context.status = .unmounted }
                    if case .reject(let error) = DriveLifecycle.decide(.delete, in: context) { throw error }
                    try db.run(sql: "DELETE FROM drives WHERE seq = ?", arguments: [driveSeq])
                } else {
                    try Relations.settleMountStatus(db, driveSeq: driveSeq, stamp: stamp)
                }
            }
        }
    }

    /// `?do=start` / `?do=stop`: the status moves to `starting`/`stopping` at once and completes
    /// through the worker.
    public func act(owner: String, uuid: String, operation: ServerLifecycle.Operation, now: Date = Date()) async throws {
        let durations = self.durations, control = self.control
        try await database.write { db in
            guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT seq, status FROM servers WHERE uuid = ? AND owner = ?"), arguments: [uuid, owner]),
                let status = ServerStatus(rawValue: row["status"])
            else { throw CloudSigmaError.notExist(uuid) }
            let seq: Int64 = row["seq"]
            switch ServerLifecycle.decide(operation, in: status) {
            case .reject(let error): throw error
            case .ignore, .proceed(nil): return
            case .proceed(let target?):
                try db.run(
                    sql: "UPDATE servers SET status = ?, updated_at = ? WHERE seq = ? AND status = ?",
                    arguments: [target.rawValue, Timestamp.string(now), seq, status.rawValue])
                guard db.changesCount == 1 else { throw StoreError.conflict("server \(uuid)") }
                let seconds = max(0, (operation == .start ? durations.startSeconds : durations.stopSeconds) * durations.timeScale)
                let op: TransitionControl.Operation = operation == .start ? .start : .stop
                let due = control?.due(op, now: now, configured: seconds) ?? now.timeIntervalSince1970 + seconds
                try db.run(
                    sql: """
                        INSERT OR REPLACE INTO server_transitions (server_seq, operation, from_status, due_at)
                        VALUES (?, ?, ?, ?)
                        """,
                    arguments: [seq, operation.rawValue, target.rawValue, due])
            }
        }
    }

    /// Completes due server transitions; returns the servers moved.
    public func completeDueTransitions(now: Date = Date()) async throws -> [String] {
        // Look first (a reader, an index probe): an idle worker takes no write lock.
        guard
            try await database.exists(
                sql: "SELECT 1 FROM server_transitions WHERE due_at <= ? LIMIT 1", arguments: [now.timeIntervalSince1970])
        else { return [] }
        return try await database.write { db in
            let due = try Row.fetchAll(db.cachedStatement(sql: """
                    SELECT t.server_seq, t.from_status, s.uuid, s.status FROM server_transitions t
                    JOIN servers s ON s.seq = t.server_seq WHERE t.due_at <= ? ORDER BY t.due_at
                    """),
                arguments: [now.timeIntervalSince1970])
            var moved: [String] = []
            let stamp = Timestamp.string(now)
            for row in due {
                let seq: Int64 = row["server_seq"]
                try db.run(sql: "DELETE FROM server_transitions WHERE server_seq = ?", arguments: [seq])
                guard row["status"] as String == row["from_status"] as String,
                    let status = ServerStatus(rawValue: row["status"]),
                    case .proceed(let target?) = ServerLifecycle.decide(.complete, in: status)
                else { continue }
                try db.run(
                    sql: "UPDATE servers SET status = ?, active_since = ?, updated_at = ? WHERE seq = ? AND status = ?",
                    arguments: [target.rawValue, target == .running ? stamp : nil, stamp, seq, status.rawValue])
                if db.changesCount == 1 { moved.append(row["uuid"]) }
            }
            return moved
        }
    }

    public func nextTransitionDue() async throws -> Double? {
        try await database.read { db in try Double.fetchOne(db.cachedStatement(sql: "SELECT MIN(due_at) FROM server_transitions")) }
    }

    // MARK: Mounts

    /// Replaces the `drives` of server `serverSeq`, checking every rule of reference §6.1 first,
    /// then moving attached drives to `mounted` and detached ones back to `unmounted`.
    static func setMounts(_ db: Database, owner: String, serverSeq: Int64, mounts: [MountRequest], stamp: String) throws {
        struct Resolved {
            var mount: MountRequest
            var driveSeq: Int64?
            var libraryUUID: String?
        }
        let before = Set(
            try Int64.fetchAll(db.cachedStatement(sql: "SELECT drive_seq FROM server_drives WHERE server_seq = ? AND drive_seq IS NOT NULL"), arguments: [serverSeq]))
        var resolved: [Resolved] = []
        var channels = Set<String>()
        var seen = Set<String>()
        for (index, mount) in mounts.enumerated() {
            let channelKey = "\(mount.device) \(mount.devChannel)"
            guard channels.insert(channelKey).inserted else {
                throw CloudSigmaError.validation(
                    "drives", "drives[\(index)]: \(mount.device) channel \(mount.devChannel) is used twice")
            }
            if let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT seq, status, media, allow_multimount FROM drives WHERE uuid = ? AND owner = ?"),
                arguments: [mount.driveUUID, owner])
            {
                let seq: Int64 = row["seq"]
                guard seen.insert(mount.driveUUID).inserted || row["media"] as String == DriveMedia.cdrom.rawValue else {
                    throw CloudSigmaError.validation("drives", "drives[\(index)]: drive \(mount.driveUUID) is listed twice")
                }
                if !before.contains(seq) {
                    let status = DriveStatus(rawValue: row["status"]) ?? .unavailable
                    let context = try DriveRepository.lifecycleContext(db, seq: seq, status: status)
                    if case .reject(let error) = DriveLifecycle.decide(.attach, in: context) { throw error }
                    let multimount: Bool = row["allow_multimount"]
                    if context.mountCount > 0, row["media"] as String == DriveMedia.disk.rawValue, !multimount {
                        throw CloudSigmaError.permission(
                            "Drive \(mount.driveUUID) is already mounted on another server and does not allow multimount")
                    }
                }
                resolved.append(Resolved(mount: mount, driveSeq: seq))
            } else if let media = try String.fetchOne(db.cachedStatement(sql: "SELECT media FROM library_drives WHERE uuid = ?"), arguments: [mount.driveUUID])
            {
                guard media == DriveMedia.cdrom.rawValue else {
                    throw CloudSigmaError.permission(
                        "Library drive \(mount.driveUUID) is a disk: clone it into your account before attaching it")
                }
                resolved.append(Resolved(mount: mount, libraryUUID: mount.driveUUID))
            } else {
                throw CloudSigmaError.notExist(mount.driveUUID)
            }
        }
        try db.run(sql: "DELETE FROM server_drives WHERE server_seq = ?", arguments: [serverSeq])
        for (position, item) in resolved.enumerated() {
            try db.run(
                sql: """
                    INSERT INTO server_drives (server_seq, position, drive_seq, library_uuid, boot_order, dev_channel, device)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    serverSeq, position, item.driveSeq, item.libraryUUID, item.mount.bootOrder, item.mount.devChannel,
                    item.mount.device,
                ])
        }
        let after = Set(resolved.compactMap(\.driveSeq))
        for seq in before.union(after) {
            try Relations.settleMountStatus(db, driveSeq: seq, stamp: stamp)
        }
    }

    // MARK: Rendering

    static func fetch(
        _ db: Database, where whereSQL: String, _ args: [any DatabaseValueConvertible], tail: String = ""
    ) throws -> [Server] {
        let rows = try Row.fetchAll(
            db, sql: "SELECT s.* FROM servers s WHERE \(whereSQL)\(tail)", arguments: StatementArguments(args))
        guard !rows.isEmpty else { return [] }
        var servers: [Server] = []
        var index: [Int64: Int] = [:]
        for row in rows {
            index[row["seq"]] = servers.count
            servers.append(
                Server(
                    uuid: row["uuid"], owner: row["owner"], name: row["name"], cpu: row["cpu"], mem: row["mem"],
                    vncPassword: row["vnc_password"], status: ServerStatus(rawValue: row["status"]) ?? .unavailable,
                    meta: Codec.decodeStringMap(row["meta"]), extra: Codec.decodeObject(row["extra"]),
                    activeSince: row["active_since"]))
        }
        let mountRows = try Row.fetchAll(
            db,
            sql: """
                SELECT sd.server_seq, sd.boot_order, sd.dev_channel, sd.device, COALESCE(d.uuid, sd.library_uuid) AS drive
                FROM server_drives sd LEFT JOIN drives d ON d.seq = sd.drive_seq
                WHERE sd.server_seq IN (\(index.keys.map(String.init).joined(separator: ",")))
                ORDER BY sd.server_seq, sd.position
                """)
        for row in mountRows {
            if let i = index[row["server_seq"]] {
                servers[i].drives.append(
                    ServerDrive(bootOrder: row["boot_order"], devChannel: row["dev_channel"], device: row["device"], driveUUID: row["drive"]))
            }
        }
        let tags = try Relations.tags(db, of: servers.map(\.uuid))
        for i in servers.indices { servers[i].tags = tags[servers[i].uuid] ?? [] }
        return servers
    }
}
