import DriveLifecycle
import DriveModel
import Foundation
import GRDB

/// What the admin API (`/_drivesd/`) does to the store: resets, statistics, fault statuses,
/// backups.
public struct AdminRepository: Sendable {
    let database: AppDatabase

    public init(database: AppDatabase) {
        self.database = database
    }

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
            return removed
        }
    }

    /// Figures for `/_drivesd/metrics`.
    public struct Stats: Sendable {
        public var drivesByStatus: [String: Int]
        public var serversByStatus: [String: Int]
        public var jobsByState: [String: Int]
        public var pendingTransitions: Int
        public var heldTransitions: Int
        public var users: Int
        public var databaseBytes: Int64
    }

    public func stats() async throws -> Stats {
        let path = database.path
        return try await database.read { db in
            func grouped(_ sql: String) throws -> [String: Int] {
                var out: [String: Int] = [:]
                for row in try Row.fetchAll(db, sql: sql) { out[row[0]] = row[1] }
                return out
            }
            let pageCount = try Int64.fetchOne(db, sql: "PRAGMA page_count") ?? 0
            let pageSize = try Int64.fetchOne(db, sql: "PRAGMA page_size") ?? 0
            var bytes = pageCount * pageSize
            if let path, let wal = try? FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int64 {
                bytes += wal
            }
            let pending = (try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM transitions") ?? 0)
                + (try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM server_transitions") ?? 0)
            let held = (try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM transitions WHERE due_at >= ?", arguments: [TransitionControl.heldDue / 10]) ?? 0)
                + (try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM server_transitions WHERE due_at >= ?", arguments: [TransitionControl.heldDue / 10]) ?? 0)
            return Stats(
                drivesByStatus: try grouped("SELECT status, COUNT(*) FROM drives GROUP BY status"),
                serversByStatus: try grouped("SELECT status, COUNT(*) FROM servers GROUP BY status"),
                jobsByState: try grouped("SELECT state, COUNT(*) FROM jobs GROUP BY state"),
                pendingTransitions: pending, heldTransitions: held,
                users: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM users") ?? 0,
                databaseBytes: bytes)
        }
    }

    /// The fault path of the state machine: the drive's storage host goes away (`unavailable`)
    /// or comes back (to `mounted`/`unmounted`). Works on any owner's drive.
    public func setAvailability(driveUUID: String, available: Bool, now: Date = Date()) async throws -> DriveStatus {
        try await database.write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT seq, status FROM drives WHERE uuid = ?", arguments: [driveUUID]),
                let status = DriveStatus(rawValue: row["status"])
            else { throw CloudSigmaError.notExist(driveUUID) }
            let seq: Int64 = row["seq"]
            let context = try DriveRepository.lifecycleContext(db, seq: seq, status: status)
            switch DriveLifecycle.decide(available ? .markAvailable : .markUnavailable, in: context) {
            case .reject(let error): throw error
            case .ignore, .proceed(nil): return status
            case .proceed(let target?):
                try db.execute(
                    sql: "UPDATE drives SET status = ?, updated_at = ? WHERE seq = ? AND status = ?",
                    arguments: [target.rawValue, Timestamp.string(now), seq, status.rawValue])
                guard db.changesCount == 1 else { throw StoreError.conflict("drive \(driveUUID)") }
                return target
            }
        }
    }
}

extension AppDatabase {
    /// An online, consistent copy of the database at `path` (SQLite's backup API).
    public func backup(to path: String) throws {
        let destination = try DatabaseQueue(path: path)
        do {
            try writer.backup(to: destination)
            try destination.close()
        } catch let error as DatabaseError {
            throw StoreError.database(error)
        }
    }

    /// Replaces this database's content with the backup at `path`, after checking the backup is a
    /// sound drivesd database. Run it with the daemon stopped.
    public func restore(from path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else {
            throw StoreError.cannotOpen(path: path, reason: "no such file")
        }
        var config = Configuration()
        config.readonly = true
        let source = try DatabaseQueue(path: path, configuration: config)
        let check = try source.read { db -> (String, Bool) in
            let integrity = try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "; ")
            let hasMigrations = try db.tableExists("grdb_migrations") && db.tableExists("drives")
            return (integrity, hasMigrations)
        }
        guard check.0 == "ok" else { throw StoreError.migrationFailed("backup \(path) fails the integrity check: \(check.0)") }
        guard check.1 else { throw StoreError.migrationFailed("\(path) is not a drivesd database") }
        do {
            try source.backup(to: writer)
            try source.close()
        } catch let error as DatabaseError {
            throw StoreError.database(error)
        }
    }
}
