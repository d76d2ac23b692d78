import DriveLifecycle
import DriveModel
import DriveStorage
import Foundation
#if !POSTGRES
import GRDB
#endif

/// Servers in SQLite: their `drives` lists are the mounts that make drives `mounted`.
public struct SQLServerRepository: ServerRepository {
    let database: AppDatabase
    let env: WriteEnvironment
    /// Whether `drives` changes apply to running servers (decision 6).
    let hotplug: Bool

    init(database: AppDatabase, env: WriteEnvironment, hotplug: Bool) {
        self.database = database
        self.env = env
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
            tail += Relations.page(limit: query.limit, offset: query.offset)
            return (total, try Self.fetch(db, where: whereSQL, args, tail: tail))
        }
    }

    // MARK: Write

    public func create(owner: String, specs: [ServerSpec], now: Date) async throws -> [Server] {
        try await database.interpret(env, now: now) { interpreter in
            let db = interpreter.db
            var uuids: [String] = []
            for spec in specs {
                let uuid = Identifiers.make(now: now)
                try Self.checkNICs(db, owner: owner, server: uuid, nics: spec.extra["nics"])
                let seq = try Int64.fetchOne(db.cachedStatement(sql: """
                        INSERT INTO servers (uuid, owner, name, cpu, mem, vnc_password, status, meta, extra, created_at, updated_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq
                        """),
                    arguments: [
                        uuid, owner, spec.name, spec.cpu, spec.mem, spec.vncPassword,
                        (ServerLifecycle.create.status ?? .stopped).rawValue, Codec.encode(spec.meta ?? [:]),
                        JSONValue.object(spec.extra).jsonString, interpreter.stamp, interpreter.stamp,
                    ]) ?? 0
                try Self.setMounts(interpreter, owner: owner, serverSeq: seq, mounts: spec.drives ?? [])
                if let tags = spec.tags {
                    try Relations.setTags(db, owner: owner, resType: "servers", resUUID: uuid, tagUUIDs: tags)
                }
                uuids.append(uuid)
            }
            return try uuids.map { uuid in try Self.fetch(db, where: "s.uuid = ?", [uuid]).first! }
        }
    }

    /// The owner's server `uuid`: (seq, status), or 404.
    static func owned(_ db: Database, owner: String, uuid: String) throws -> (seq: Int64, status: ServerStatus) {
        guard
            let row = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT seq, status FROM servers WHERE uuid = ? AND owner = ?"), arguments: [uuid, owner]),
            let status = ServerStatus(rawValue: row[1])
        else { throw CloudSigmaError.notExist(uuid) }
        return (row[0], status)
    }

    public func update(owner: String, uuid: String, spec: ServerSpec, now: Date) async throws -> Server {
        let hotplug = self.hotplug
        return try await database.interpret(env, now: now) { interpreter in
            let db = interpreter.db
            let (seq, status) = try Self.owned(db, owner: owner, uuid: uuid)
            let plan = try ServerLifecycle.plan(.editStructural, in: status).plan()
            var sets: [(column: String, value: (any DatabaseValueConvertible)?)] = [("name", spec.name)]
            if let meta = spec.meta { sets.append(("meta", Codec.encode(meta))) }
            if plan?.applyStructural == true {
                try Self.checkNICs(db, owner: owner, server: uuid, nics: spec.extra["nics"])
                let extra = try Codec.decodeObject(
                    String.fetchOne(db.cachedStatement(sql: "SELECT extra FROM servers WHERE seq = ?"), arguments: [seq]) ?? "{}")
                sets += [
                    ("cpu", spec.cpu), ("mem", spec.mem), ("vnc_password", spec.vncPassword),
                    ("extra", JSONValue.object(extra.merging(spec.extra) { $1 }).jsonString),
                ]
            }
            try interpreter.carryOut(plan ?? ServerPlan(), onServer: seq, uuid: uuid, status: status, sets: sets)
            if let mounts = spec.drives, plan?.applyStructural == true || hotplug {
                try Self.setMounts(interpreter, owner: owner, serverSeq: seq, mounts: mounts)
            }
            if let tags = spec.tags {
                try Relations.setTags(db, owner: owner, resType: "servers", resUUID: uuid, tagUUIDs: tags)
            }
            return try Self.fetch(db, where: "s.seq = ?", [seq]).first!
        }
    }

    /// A NIC's IP and VLAN must be the owner's, and an IP can be on one server only.
    static func checkNICs(_ db: Database, owner: String, server: String, nics: JSONValue?) throws {
        guard case .array(let items)? = nics else { return }
        var claimed = Set<String>()
        var ipUsers: [String: [String]]?  // read once, at the first IP
        for (index, nic) in items.enumerated() {
            if case .string(let ip)? = nic["ip_v4_conf"]?["ip"]?["uuid"] {
                guard try Bool.fetchOne(db, sql: "SELECT 1 FROM ips WHERE address = ? AND owner = ?", arguments: [ip, owner]) == true
                else { throw CloudSigmaError.notExist(ip) }
                if ipUsers == nil { ipUsers = try SQLNetworkRepository.nicUsers(db, .ips, owner: owner) }
                let users = ipUsers?[ip] ?? []
                guard claimed.insert(ip).inserted, users.allSatisfy({ $0 == server }) else {
                    throw CloudSigmaError.validation(
                        "nics", "nics[\(index)]: IP \(ip) is already in use by server \(users.first { $0 != server } ?? server)")
                }
            }
            if case .string(let vlan)? = nic["vlan"]?["uuid"] {
                guard try Bool.fetchOne(db, sql: "SELECT 1 FROM vlans WHERE uuid = ? AND owner = ?", arguments: [vlan, owner]) == true
                else { throw CloudSigmaError.notExist(vlan) }
            }
        }
    }

    public func delete(owner: String, uuid: String, recurse: ServerDeleteRecurse, now: Date) async throws {
        try await database.interpret(env, now: now) { interpreter in
            let db = interpreter.db
            let (seq, status) = try Self.owned(db, owner: owner, uuid: uuid)
            guard let plan = try ServerLifecycle.plan(.delete, in: status).plan() else { return }
            let attached = try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT DISTINCT d.seq, d.media FROM server_drives sd JOIN drives d ON d.seq = sd.drive_seq
                        WHERE sd.server_seq = ?
                        """),
                arguments: [seq])
            try interpreter.carryOut(plan, onServer: seq, uuid: uuid, status: status)
            for drive in attached {
                let media: String = drive[1]
                let remove: Bool =
                    switch recurse {
                    case .none: false
                    case .allDrives: true
                    case .disks: media == DriveMedia.disk.rawValue
                    case .cdroms: media == DriveMedia.cdrom.rawValue
                    }
                // The server's mounts went with it: the drive is detached first, then deleted
                // when the recursion takes it.
                guard var row = try interpreter.driveRow(seq: drive[0]) else { continue }
                row.status = try interpreter.apply(.detach, to: row) ?? row.status
                if remove { try interpreter.apply(.delete, to: row) }
            }
        }
    }

    public func act(owner: String, uuid: String, operation: ServerAction, now: Date) async throws {
        try await database.interpret(env, now: now) { interpreter in
            let (seq, status) = try Self.owned(interpreter.db, owner: owner, uuid: uuid)
            let op: ServerLifecycle.Operation =
                switch operation {
                case .start: .start
                case .stop: .stop
                }
            guard let plan = try ServerLifecycle.plan(op, in: status).plan() else { return }
            try interpreter.carryOut(plan, onServer: seq, uuid: uuid, status: status)
        }
    }

    // MARK: Mounts

    /// Replaces the `drives` of server `serverSeq`, checking every rule of reference §6.1 first,
    /// then moving attached drives to `mounted` and detached ones back to `unmounted`.
    static func setMounts(_ interpreter: PlanInterpreter, owner: String, serverSeq: Int64, mounts: [MountRequest]) throws {
        let db = interpreter.db
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
                    let context = try interpreter.driveContext(seq: seq, status: status)
                    if case .refuse(let error) = DriveLifecycle.plan(.attach, in: context) { throw error }
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
        // Newly attached drives become `mounted`; detached ones go back to rest once no server
        // lists them (a drive in a transient status keeps it and settles when it completes).
        let after = Set(resolved.compactMap(\.driveSeq))
        for seq in after.subtracting(before).sorted() {
            guard let row = try interpreter.driveRow(seq: seq) else { continue }
            try interpreter.apply(.attach, to: row)
        }
        for seq in before.subtracting(after).sorted() {
            guard let row = try interpreter.driveRow(seq: seq) else { continue }
            try interpreter.apply(.detach, to: row)
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
        // The real API's order, not the request's: by device (`ide`, `scsi`, `virtio`), then
        // controller and unit (`[dump:server_recurse_del_all_drives_create]`: a virtio disk and
        // an ide cdrom sent in that order come back ide first); ties keep the request's order.
        for i in servers.indices { servers[i].drives = Self.ordered(servers[i].drives) }
        let tags = try Relations.tags(db, of: servers.map(\.uuid))
        for i in servers.indices { servers[i].tags = tags[servers[i].uuid] ?? [] }
        return servers
    }

    /// Mounts in the real API's order: device, then controller and unit as numbers (a channel
    /// that is not `c:u` sorts last within its device), then the order given.
    static func ordered(_ drives: [ServerDrive]) -> [ServerDrive] {
        func channel(_ text: String) -> (Int, Int) {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2, let c = Int(parts[0]), let u = Int(parts[1]) else { return (Int.max, Int.max) }
            return (c, u)
        }
        return drives.enumerated().sorted { a, b in
            let (ca, cb) = (channel(a.element.devChannel), channel(b.element.devChannel))
            if a.element.device != b.element.device { return a.element.device < b.element.device }
            if ca != cb { return ca < cb }
            return a.offset < b.offset
        }.map(\.element)
    }
}
