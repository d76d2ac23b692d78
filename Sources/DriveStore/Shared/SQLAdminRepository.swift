import DriveLifecycle
import DriveModel
import DriveStorage
import Foundation
#if !POSTGRES
import GRDB
#endif

/// What the admin API (`/_drivesd/`) does to the store: resets, statistics, fault statuses,
/// backups.
public struct SQLAdminRepository: AdminRepository {
    let database: AppDatabase
    let env: WriteEnvironment

    init(database: AppDatabase, env: WriteEnvironment) {
        self.database = database
        self.env = env
    }

    public func isMigrated() throws -> Bool { try database.isMigrated() }

    /// Deletes every drive, server, tag and job of one account (by uuid or email), or of every
    /// account when `account` is nil. Accounts themselves stay. Returns the number of drives removed.
    @discardableResult
    public func reset(account: String?) async throws -> Int {
        try await database.write { db in
            var owners: [String]
            if let account {
                guard let uuid = try String.fetchOne(
                    db, sql: "SELECT uuid FROM users WHERE uuid = ? OR email = ?", arguments: [account, account])
                else { throw CloudSigmaError.notExist(account) }
                owners = [uuid]
            } else {
                owners = try String.fetchAll(db, sql: "SELECT uuid FROM users")
            }
            var removed = 0
            for owner in owners {
                // Servers first: their mounts go with them; then drives (transitions, licenses,
                // job refs and tag refs cascade), tags and jobs.
                try db.execute(sql: "DELETE FROM servers WHERE owner = ?", arguments: [owner])
                try db.execute(sql: "DELETE FROM drives WHERE owner = ?", arguments: [owner])
                removed += db.changesCount
                try db.execute(sql: "DELETE FROM tags WHERE owner = ?", arguments: [owner])
                try db.execute(sql: "DELETE FROM jobs WHERE owner = ?", arguments: [owner])
            }
            // Content images that lost their last drive were queued for removal by a trigger.
            database.afterCommit.ring(.outbox)
            return removed
        }
    }

    public func stats() async throws -> StoreStats {
        let path = database.path
        return try await database.read { db in
            func grouped(_ sql: String) throws -> [String: Int] {
                var out: [String: Int] = [:]
                for row in try Row.fetchAll(db, sql: sql) { out[row[0]] = row[1] }
                return out
            }
            // Only the drives that are not unmounted have an index entry by status (migration
            // 0014): the unmounted ones are the rest of the drives that owner_drive_counts counts.
            func drivesByStatus() throws -> [String: Int] {
                var counts = try grouped(
                    "SELECT status, COUNT(*) FROM drives WHERE \(SQLDriveRepository.notUnmounted("status")) GROUP BY status")
                let total = try Int.fetchOne(db, sql: "SELECT COALESCE(SUM(drives), 0) FROM owner_drive_counts") ?? 0
                let unmounted = total - counts.values.reduce(0, +)
                if unmounted > 0 { counts[DriveStatus.unmounted.rawValue] = unmounted }
                return counts
            }
            #if POSTGRES
            // The database's size on the server.
            let bytes = try Int64.fetchOne(db, sql: "SELECT pg_database_size(current_database())") ?? 0
            #else
            let pageCount = try Int64.fetchOne(db, sql: "PRAGMA page_count") ?? 0
            let pageSize = try Int64.fetchOne(db, sql: "PRAGMA page_size") ?? 0
            var bytes = pageCount * pageSize
            if let path, let wal = try? FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int64 {
                bytes += wal
            }
            #endif
            let pending = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM pending_transitions") ?? 0
            let held =
                try Int.fetchOne(
                    db, sql: "SELECT COUNT(*) FROM pending_transitions WHERE due_at >= ?", arguments: [TransitionMode.heldDue / 10])
                ?? 0
            return StoreStats(
                drivesByStatus: try drivesByStatus(),
                serversByStatus: try grouped("SELECT status, COUNT(*) FROM servers GROUP BY status"),
                jobsByState: try grouped("SELECT state, COUNT(*) FROM jobs GROUP BY state"),
                pendingTransitions: pending, heldTransitions: held,
                pendingEffects: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM outbox") ?? 0,
                users: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM users") ?? 0,
                databaseBytes: bytes)
        }
    }

    /// The fault path of the state machine: the drive's storage host goes away (`unavailable`)
    /// or comes back (to `mounted`/`unmounted`). Works on any owner's drive.
    public func setAvailability(driveUUID: String, available: Bool, now: Date) async throws -> DriveStatus {
        try await database.interpret(env, now: now) { interpreter in
            let db = interpreter.db
            guard
                let seq = try Int64.fetchOne(db.cachedStatement(sql: "SELECT seq FROM drives WHERE uuid = ?"), arguments: [driveUUID]),
                let row = try interpreter.driveRow(seq: seq)
            else { throw CloudSigmaError.notExist(driveUUID) }
            return try interpreter.apply(available ? .markAvailable : .markUnavailable, to: row) ?? row.status
        }
    }

    public func accountSummaries() async throws -> [AccountSummary] {
        try await database.read { db in
            let sql = """
                SELECT u.uuid, u.email, u.created_at,
                    COALESCE((SELECT drives FROM owner_drive_counts WHERE owner = u.uuid), 0),
                    (SELECT COUNT(*) FROM snapshots WHERE owner = u.uuid),
                    (SELECT COUNT(*) FROM servers WHERE owner = u.uuid)
                FROM users u ORDER BY u.email
                """
            return try Row.fetchAll(db, sql: sql).map { row in
                AccountSummary(uuid: row[0], email: row[1], created: row[2], drives: row[3], snapshots: row[4], servers: row[5])
            }
        }
    }

    public func snapshotCount() async throws -> Int {
        try await database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM snapshots") ?? 0 }
    }

    public func driveOwner(uuid: String) async throws -> String? {
        try await database.read { db in try String.fetchOne(db, sql: "SELECT owner FROM drives WHERE uuid = ?", arguments: [uuid]) }
    }

    public func pendingTransitions(resource: String?, limit: Int) async throws -> [PendingTransition] {
        let held = TransitionMode.heldDue / 10
        return try await database.read { db in
            // One branch per kind of resource; each joins its own table by seq.
            var sql = """
                SELECT * FROM (
                    SELECT 'drive' AS kind, d.uuid, d.owner, d.name, p.operation, p.from_status, p.due_at
                        FROM pending_transitions p JOIN drives d ON p.resource_kind = 'drive' AND d.seq = p.resource_seq
                    UNION ALL
                    SELECT 'server', s.uuid, s.owner, s.name, p.operation, p.from_status, p.due_at
                        FROM pending_transitions p JOIN servers s ON p.resource_kind = 'server' AND s.seq = p.resource_seq
                    UNION ALL
                    SELECT 'snapshot', n.uuid, n.owner, n.name, p.operation, p.from_status, p.due_at
                        FROM pending_transitions p JOIN snapshots n ON p.resource_kind = 'snapshot' AND n.seq = p.resource_seq
                ) AS pending
                """
            var arguments: StatementArguments = []
            if let resource {
                sql += " WHERE uuid = ?"
                arguments += [resource]
            }
            sql += " ORDER BY due_at, uuid LIMIT ?"
            arguments += [max(0, limit)]
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                let due: Double = row[6]
                return PendingTransition(
                    kind: row[0], uuid: row[1], owner: row[2], name: row[3], operation: row[4], fromStatus: row[5],
                    dueAt: due, held: due >= held)
            }
        }
    }

    public func contentMap(driveUUID: String) async throws -> ContentMap? {
        try await database.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT content_image FROM drives WHERE uuid = ?", arguments: [driveUUID]) else {
                return nil
            }
            guard let image: Int64 = row[0],
                let info = try Row.fetchOne(
                    db, sql: "SELECT extent_size, refs, sealed FROM content_images WHERE id = ?", arguments: [image])
            else {
                return ContentMap(image: nil, extentSize: 0, extents: 0, storedBytes: 0, sharedBytes: 0, references: 0, sealed: true)
            }
            let totals = try Row.fetchOne(
                db, sql: "SELECT COUNT(*), COALESCE(SUM(length), 0) FROM content_extents WHERE image_id = ?", arguments: [image])
            let stored: Int64 = totals?[1] ?? 0
            let references: Int = info[1]
            return ContentMap(
                image: image, extentSize: info[0], extents: totals?[0] ?? 0, storedBytes: stored,
                sharedBytes: references > 1 ? stored : 0, references: references, sealed: info[2])
        }
    }
}
