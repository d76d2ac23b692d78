import DriveModel
import DriveStorage
import Foundation
#if !POSTGRES
import GRDB
#endif

/// IPs and VLANs over SQLite. The server an IP is on and the servers of a VLAN are read from the
/// servers' NICs (`ip_v4_conf.ip`, `vlan`), so they follow every server change with nothing to
/// keep in step.
public struct SQLNetworkRepository: NetworkRepository {
    let database: AppDatabase

    public init(database: AppDatabase) {
        self.database = database
    }

    public func list(_ kind: NetworkKind, owner: String, query: NetworkQuery) async throws -> (total: Int, resources: [NetworkResource]) {
        try await database.read { db in
            let id = Self.idColumn(kind)
            var clauses = ["owner = ?"]
            var args: [any DatabaseValueConvertible] = [owner]
            for group in query.uuids where !group.isEmpty {
                clauses.append("\(id) IN (\(Relations.placeholders(group.count)))")
                args += group as [any DatabaseValueConvertible]
            }
            for group in query.tags where !group.isEmpty {
                clauses.append(
                    """
                    \(id) IN (SELECT tr.res_uuid FROM tag_resources tr JOIN tags t ON t.seq = tr.tag_seq
                              WHERE t.owner = ? AND t.uuid IN (\(Relations.placeholders(group.count))))
                    """)
                args.append(owner)
                args += group as [any DatabaseValueConvertible]
            }
            for group in query.names where !group.isEmpty {
                clauses.append("\(Dialect.jsonText("meta", "name")) IN (\(Relations.placeholders(group.count)))")
                args += group as [any DatabaseValueConvertible]
            }
            for group in query.nameContains where !group.isEmpty {
                clauses.append("(" + group.map { _ in Dialect.contains("lower(\(Dialect.jsonText("meta", "name")))", "lower(?)") }.joined(separator: " OR ") + ")")
                args += group as [any DatabaseValueConvertible]
            }
            let whereSQL = clauses.joined(separator: " AND ")
            let total = try Int.fetchOne(
                db, sql: "SELECT COUNT(*) FROM \(kind.rawValue) WHERE \(whereSQL)", arguments: StatementArguments(args)) ?? 0
            var tail = " ORDER BY seq"
            tail += Relations.page(limit: query.limit, offset: query.offset)
            return (total, try Self.fetch(db, kind, owner: owner, where: whereSQL, args, tail: tail))
        }
    }

    public func resource(_ kind: NetworkKind, owner: String, id: String) async throws -> NetworkResource {
        try await database.read { db in try Self.one(db, kind, owner: owner, id: id) }
    }

    public func update(_ kind: NetworkKind, owner: String, id: String, meta: [String: String]?, tags: [String]?) async throws
        -> NetworkResource
    {
        try await database.write { db in
            _ = try Self.one(db, kind, owner: owner, id: id)
            if let meta {
                try db.execute(
                    sql: "UPDATE \(kind.rawValue) SET meta = ? WHERE \(Self.idColumn(kind)) = ? AND owner = ?",
                    arguments: [Codec.encode(meta), id, owner])
            }
            if let tags {
                try Relations.setTags(db, owner: owner, resType: kind.rawValue, resUUID: id, tagUUIDs: tags)
            }
            return try Self.one(db, kind, owner: owner, id: id)
        }
    }

    public func allot(ips: Int, vlans: Int) async throws {
        try await database.write { db in
            try db.execute(
                sql: "UPDATE network_allotment SET ips = ?, vlans = ? WHERE id = 1", arguments: [max(0, ips), max(0, vlans)])
            for owner in try String.fetchAll(db, sql: "SELECT uuid FROM users ORDER BY rowid") {
                try Self.topUp(db, owner: owner)
            }
        }
    }

    // MARK: Inside a transaction

    /// Gives `owner` the IPs and VLANs it lacks to reach the allotment.
    static func topUp(_ db: Database, owner: String) throws {
        guard let row = try Row.fetchOne(db, sql: "SELECT ips, vlans FROM network_allotment WHERE id = 1") else { return }
        let now = Timestamp.now()
        let wantIPs: Int = row["ips"]
        let haveIPs = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM ips WHERE owner = ?", arguments: [owner]) ?? 0
        for _ in 0..<max(0, wantIPs - haveIPs) {
            // The address follows from the row's seq: insert, then name it.
            let seq = try Int64.fetchOne(db.cachedStatement(sql: "INSERT INTO ips (address, owner, netmask, gateway, created_at) VALUES (?, ?, 0, '', ?) RETURNING seq"),
                arguments: ["pending-\(UUID().uuidString)", owner, now]) ?? 0
            let allocation = NetworkAllocation.address(seq: seq)
            try db.execute(
                sql: "UPDATE ips SET address = ?, netmask = ?, gateway = ?, nameservers = ? WHERE seq = ?",
                arguments: [
                    allocation.address, allocation.netmask, allocation.gateway, Codec.encode([allocation.gateway]), seq,
                ])
        }
        let wantVLANs: Int = row["vlans"]
        let haveVLANs = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM vlans WHERE owner = ?", arguments: [owner]) ?? 0
        for _ in 0..<max(0, wantVLANs - haveVLANs) {
            try db.execute(
                sql: "INSERT INTO vlans (uuid, owner, created_at) VALUES (?, ?, ?)",
                arguments: [Identifiers.make(), owner, now])
        }
    }

    /// Which of the owner's resources `id` names, as `tag_resources.res_type`; nil when none.
    static func kind(_ db: Database, owner: String, id: String) throws -> NetworkKind? {
        for kind in NetworkKind.allCases
        where try Bool.fetchOne(
            db, sql: "SELECT 1 FROM \(kind.rawValue) WHERE \(idColumn(kind)) = ? AND owner = ?", arguments: [id, owner]) == true
        {
            return kind
        }
        return nil
    }

    static func idColumn(_ kind: NetworkKind) -> String {
        kind == .ips ? "address" : "uuid"
    }

    static func one(_ db: Database, _ kind: NetworkKind, owner: String, id: String) throws -> NetworkResource {
        guard let found = try fetch(db, kind, owner: owner, where: "owner = ? AND \(idColumn(kind)) = ?", [owner, id]).first else {
            throw CloudSigmaError.notExist(id)
        }
        return found
    }

    static func fetch(
        _ db: Database, _ kind: NetworkKind, owner: String, where whereSQL: String, _ args: [any DatabaseValueConvertible],
        tail: String = ""
    ) throws -> [NetworkResource] {
        let rows = try Row.fetchAll(
            db, sql: "SELECT * FROM \(kind.rawValue) WHERE \(whereSQL)\(tail)", arguments: StatementArguments(args))
        guard !rows.isEmpty else { return [] }
        let ids: [String] = rows.map { $0[idColumn(kind)] }
        let tags = try Relations.tags(db, of: ids)
        let users = try nicUsers(db, kind, owner: owner)
        return rows.map { row in
            let id: String = row[idColumn(kind)]
            switch kind {
            case .ips:
                return .ip(
                    IPAddress(
                        address: id, owner: row["owner"], netmask: row["netmask"], gateway: row["gateway"],
                        nameservers: Codec.decodeStrings(row["nameservers"]), meta: Codec.decodeStringMap(row["meta"]),
                        subscription: NetworkAllocation.ipSubscription(seq: row["seq"]), server: users[id]?.first,
                        tags: tags[id] ?? []))
            case .vlans:
                return .vlan(
                    VLAN(
                        uuid: id, owner: row["owner"], meta: Codec.decodeStringMap(row["meta"]),
                        subscription: NetworkAllocation.vlanSubscription(seq: row["seq"]), servers: users[id] ?? [],
                        tags: tags[id] ?? []))
            }
        }
    }

    /// The owner's servers by the IP (or VLAN) their NICs name, in server creation order.
    static func nicUsers(_ db: Database, _ kind: NetworkKind, owner: String) throws -> [String: [String]] {
        let rows = try Row.fetchAll(
            db.cachedStatement(sql: Dialect.nicReferences(kind == .ips ? "ip_v4_conf.ip.uuid" : "vlan.uuid")),
            arguments: [owner])
        var out: [String: [String]] = [:]
        for row in rows {
            guard let id = row["id"] as String? else { continue }
            let server: String = row["server"]
            if out[id]?.contains(server) != true { out[id, default: []].append(server) }
        }
        return out
    }
}
