import DriveModel
import DriveStorage
import Foundation
#if !POSTGRES
import GRDB
#endif

/// Tags, and the one relation behind a tag's `resources` and a resource's `tags`.
public struct SQLTagRepository: TagRepository {
    let database: AppDatabase

    public init(database: AppDatabase) {
        self.database = database
    }

    public func create(owner: String, specs: [TagSpec], now: Date) async throws -> [Tag] {
        try await database.write { db in
            var seqs: [Int64] = []
            for spec in specs {
                let seq = try Int64.fetchOne(db.cachedStatement(sql: "INSERT INTO tags (uuid, owner, name, meta, created_at) VALUES (?, ?, ?, ?, ?) RETURNING seq"),
                    arguments: [Identifiers.make(now: now), owner, spec.name, Codec.encode(spec.meta ?? [:]), Timestamp.string(now)]) ?? 0
                try Self.setResources(db, owner: owner, tagSeq: seq, spec.resources ?? [])
                seqs.append(seq)
            }
            return try seqs.map { try Self.fetch(db, where: "seq = ?", [$0]).first! }
        }
    }

    public func list(owner: String, names: [[String]], limit: Int?, offset: Int) async throws -> (total: Int, tags: [Tag]) {
        try await database.read { db in
            var clauses = ["owner = ?"]
            var args: [any DatabaseValueConvertible] = [owner]
            for group in names where !group.isEmpty {
                clauses.append("name IN (\(Relations.placeholders(group.count)))")
                args += group as [any DatabaseValueConvertible]
            }
            let whereSQL = clauses.joined(separator: " AND ")
            let total = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM tags WHERE \(whereSQL)", arguments: StatementArguments(args)) ?? 0
            var tail = " ORDER BY seq"
            tail += Relations.page(limit: limit, offset: offset)
            return (total, try Self.fetch(db, where: whereSQL, args, tail: tail))
        }
    }

    public func tag(owner: String, uuid: String) async throws -> Tag {
        try await database.read { db in
            guard let tag = try Self.fetch(db, where: "uuid = ? AND owner = ?", [uuid, owner]).first else {
                throw CloudSigmaError.notExist(uuid)
            }
            return tag
        }
    }

    /// PUT: `name` and `meta` replace; `resources` replaces the whole list when present.
    public func update(owner: String, uuid: String, spec: TagSpec) async throws -> Tag {
        try await database.write { db in
            guard let seq = try Int64.fetchOne(db, sql: "SELECT seq FROM tags WHERE uuid = ? AND owner = ?", arguments: [uuid, owner])
            else { throw CloudSigmaError.notExist(uuid) }
            try db.execute(sql: "UPDATE tags SET name = ? WHERE seq = ?", arguments: [spec.name, seq])
            if let meta = spec.meta {
                try db.execute(sql: "UPDATE tags SET meta = ? WHERE seq = ?", arguments: [Codec.encode(meta), seq])
            }
            if let resources = spec.resources {
                try Self.setResources(db, owner: owner, tagSeq: seq, resources)
            }
            return try Self.fetch(db, where: "seq = ?", [seq]).first!
        }
    }

    public func delete(owner: String, uuid: String) async throws {
        try await database.write { db in
            try db.execute(sql: "DELETE FROM tags WHERE uuid = ? AND owner = ?", arguments: [uuid, owner])
            guard db.changesCount == 1 else { throw CloudSigmaError.notExist(uuid) }
        }
    }

    /// The uuids of the owner's resources of `type` under tag `uuid`, in tagging order.
    public func resourceUUIDs(owner: String, uuid: String, type: String) async throws -> [String] {
        try await database.read { db in
            guard let seq = try Int64.fetchOne(db, sql: "SELECT seq FROM tags WHERE uuid = ? AND owner = ?", arguments: [uuid, owner])
            else { throw CloudSigmaError.notExist(uuid) }
            return try String.fetchAll(
                db, sql: "SELECT res_uuid FROM tag_resources WHERE tag_seq = ? AND res_type = ? ORDER BY rowid",
                arguments: [seq, type])
        }
    }

    /// Replaces a tag's resources; each uuid must be one of the owner's drives, servers, snapshots,
    /// IPs or VLANs, and
    /// its `res_type` is worked out by looking it up.
    static func setResources(_ db: Database, owner: String, tagSeq: Int64, _ uuids: [String]) throws {
        try db.execute(sql: "DELETE FROM tag_resources WHERE tag_seq = ?", arguments: [tagSeq])
        var seen = Set<String>()
        for uuid in uuids where seen.insert(uuid).inserted {
            let type: String
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM drives WHERE uuid = ? AND owner = ?", arguments: [uuid, owner]) == true {
                type = "drives"
            } else if try Bool.fetchOne(db, sql: "SELECT 1 FROM servers WHERE uuid = ? AND owner = ?", arguments: [uuid, owner]) == true {
                type = "servers"
            } else if try Bool.fetchOne(db, sql: "SELECT 1 FROM snapshots WHERE uuid = ? AND owner = ?", arguments: [uuid, owner]) == true {
                type = "snapshots"
            } else if let kind = try SQLNetworkRepository.kind(db, owner: owner, id: uuid) {
                type = kind.rawValue
            } else {
                throw CloudSigmaError.notExist(uuid)
            }
            try db.execute(
                sql: "INSERT INTO tag_resources (tag_seq, res_type, res_uuid) VALUES (?, ?, ?)", arguments: [tagSeq, type, uuid])
        }
    }

    static func fetch(_ db: Database, where whereSQL: String, _ args: [any DatabaseValueConvertible], tail: String = "") throws -> [Tag] {
        let rows = try Row.fetchAll(db, sql: "SELECT * FROM tags WHERE \(whereSQL)\(tail)", arguments: StatementArguments(args))
        guard !rows.isEmpty else { return [] }
        var tags: [Tag] = []
        var index: [Int64: Int] = [:]
        for row in rows {
            index[row["seq"]] = tags.count
            tags.append(Tag(uuid: row["uuid"], owner: row["owner"], name: row["name"], meta: Codec.decodeStringMap(row["meta"]), resources: []))
        }
        let resourceRows = try Row.fetchAll(
            db,
            sql: """
                SELECT tag_seq, res_type, res_uuid FROM tag_resources
                WHERE tag_seq IN (\(index.keys.map(String.init).joined(separator: ","))) ORDER BY tag_seq, rowid
                """)
        for row in resourceRows {
            if let i = index[row["tag_seq"]] {
                tags[i].resources.append(Tag.Resource(type: row["res_type"], uuid: row["res_uuid"], owner: tags[i].owner))
            }
        }
        return tags
    }
}
