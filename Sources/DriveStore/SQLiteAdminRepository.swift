import DriveLifecycle
import DriveModel
import DriveStorage
import Foundation
import GRDB

/// What the admin API (`/_drivesd/`) does to the store: resets, statistics, fault statuses,
/// backups.
public struct SQLiteAdminRepository: AdminRepository {
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
            let pageCount = try Int64.fetchOne(db, sql: "PRAGMA page_count") ?? 0
            let pageSize = try Int64.fetchOne(db, sql: "PRAGMA page_size") ?? 0
            var bytes = pageCount * pageSize
            if let path, let wal = try? FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int64 {
                bytes += wal
            }
            let pending = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM pending_transitions") ?? 0
            let held =
                try Int.fetchOne(
                    db, sql: "SELECT COUNT(*) FROM pending_transitions WHERE due_at >= ?", arguments: [TransitionMode.heldDue / 10])
                ?? 0
            return StoreStats(
                drivesByStatus: try grouped("SELECT status, COUNT(*) FROM drives GROUP BY status"),
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
