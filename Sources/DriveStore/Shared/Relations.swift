import DriveLifecycle
import DriveModel
import Foundation
#if !POSTGRES
import GRDB
#endif

/// Mounts and tags: the relations between drives, servers and tags, kept consistent inside the
/// caller's transaction.
enum Relations {
    // MARK: Tags

    /// Replaces the tags of resource `uuid` with `tagUUIDs` (each must be the owner's tag).
    static func setTags(_ db: Database, owner: String, resType: String, resUUID: String, tagUUIDs: [String]) throws {
        var seqs: [Int64] = []
        for tag in tagUUIDs {
            guard let seq = try Int64.fetchOne(db.cachedStatement(sql: "SELECT seq FROM tags WHERE uuid = ? AND owner = ?"), arguments: [tag, owner])
            else { throw CloudSigmaError.notExist(tag) }
            if !seqs.contains(seq) { seqs.append(seq) }
        }
        try db.run(sql: "DELETE FROM tag_resources WHERE res_uuid = ?", arguments: [resUUID])
        for seq in seqs {
            try db.run(
                sql: "INSERT INTO tag_resources (tag_seq, res_type, res_uuid) VALUES (?, ?, ?)",
                arguments: [seq, resType, resUUID])
        }
    }

    /// Tag uuids of each resource in `uuids`, in tag creation order.
    static func tags(_ db: Database, of uuids: [String]) throws -> [String: [String]] {
        guard !uuids.isEmpty else { return [:] }
        var out: [String: [String]] = [:]
        let rows = try Row.fetchAll(
            db,
            sql: """
                SELECT tr.res_uuid, t.uuid FROM tag_resources tr JOIN tags t ON t.seq = tr.tag_seq
                WHERE tr.res_uuid IN (\(placeholders(uuids.count))) ORDER BY t.seq
                """,
            arguments: StatementArguments(uuids))
        for row in rows { out[row["res_uuid"], default: []].append(row["uuid"]) }
        return out
    }

    /// Tag uuids of resource `uuid`, in tag creation order.
    static func tags(_ db: Database, of uuid: String) throws -> [String] {
        try String.fetchAll(
            db.cachedStatement(
                sql: """
                    SELECT t.uuid FROM tag_resources tr JOIN tags t ON t.seq = tr.tag_seq
                    WHERE tr.res_uuid = ? ORDER BY t.seq
                    """),
            arguments: [uuid])
    }

    // MARK: Mounts

    /// Server uuids on which drive `driveSeq` is mounted, in server creation order.
    static func mountedOn(_ db: Database, driveSeq: Int64) throws -> [String] {
        try String.fetchAll(
            db.cachedStatement(
                sql: """
                    SELECT s.uuid FROM server_drives sd JOIN servers s ON s.seq = sd.server_seq
                    WHERE sd.drive_seq = ? GROUP BY s.seq ORDER BY s.seq
                    """),
            arguments: [driveSeq])
    }

    /// (servers listing the drive, whether one of them is running).
    static func mountSummary(_ db: Database, driveSeq: Int64) throws -> (count: Int, running: Bool) {
        let row = try Row.fetchOne(
            db.cachedStatement(
                sql: """
                    SELECT COUNT(DISTINCT sd.server_seq), COALESCE(\(Dialect.anyOf("s.status NOT IN ('stopped', 'paused')")), 0 = 1)
                    FROM server_drives sd JOIN servers s ON s.seq = sd.server_seq WHERE sd.drive_seq = ?
                    """),
            arguments: [driveSeq])
        return (row?[0] ?? 0, (row?[1] as Int? ?? 0) != 0)
    }

    static func placeholders(_ n: Int) -> String {
        Array(repeating: "?", count: n).joined(separator: ", ")
    }

    /// A list page's `LIMIT … OFFSET …` (nil limit: every row from `offset`; "" for all rows).
    static func page(limit: Int?, offset: Int) -> String {
        if let limit { return " LIMIT \(max(0, limit)) OFFSET \(max(0, offset))" }
        return offset > 0 ? " \(Dialect.noLimit) OFFSET \(offset)" : ""
    }

    // MARK: Storage hosts

    /// Picks the storage host of a new drive (decision 11): honours `avoid` (drive or server
    /// uuids of the owner) from the left for as long as a host stays free, then spreads new drives
    /// round-robin over the free hosts (O(1): no scan of the drives table). Never fails.
    static func placeHost(_ db: Database, owner: String, avoid: [String], hosts: Int) throws -> Int {
        try placeHosts(db, owner: owner, avoid: avoid, hosts: hosts, count: 1)[0]
    }

    /// The hosts of the next `count` drives inserted (their seqs follow one another).
    static func placeHosts(_ db: Database, owner: String, avoid: [String], hosts: Int, count: Int) throws -> [Int] {
        let hosts = max(1, hosts)
        var avoided = Set<Int>()
        for uuid in avoid {
            var candidates = Set<Int>()
            if let host = try Int.fetchOne(db.cachedStatement(sql: "SELECT host FROM drives WHERE uuid = ? AND owner = ?"), arguments: [uuid, owner]) {
                candidates.insert(host)
            } else {
                let serverHosts = try Int.fetchAll(db.cachedStatement(sql: """
                        SELECT d.host FROM servers s JOIN server_drives sd ON sd.server_seq = s.seq
                        JOIN drives d ON d.seq = sd.drive_seq WHERE s.uuid = ? AND s.owner = ?
                        """),
                    arguments: [uuid, owner])
                candidates.formUnion(serverHosts)
            }
            let next = avoided.union(candidates)
            if next.count >= hosts { break }
            avoided = next
        }
        let free = (0..<hosts).filter { !avoided.contains($0) }
        let next = try Int.fetchOne(db.cachedStatement(sql: Dialect.lastDriveSeq)) ?? 0
        return (0..<count).map { free.isEmpty ? 0 : free[(next + 1 + $0) % free.count] }
    }
}
