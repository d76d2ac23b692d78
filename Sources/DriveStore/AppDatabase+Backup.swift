import DriveStorage
import Foundation
import GRDB

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

extension AppDatabase {
    /// The extents the database file at `path` references, read without changing the file (a
    /// backup's copy).
    public static func storedExtents(atPath path: String) throws -> [StoredExtent] {
        var config = Configuration()
        config.readonly = true
        do {
            let queue = try DatabaseQueue(path: path, configuration: config)
            defer { try? queue.close() }
            return try queue.read { db in
                guard try db.tableExists("content_extents") else { return [] }
                return try SQLContentRepository.storedExtents(db)
            }
        } catch let error as DatabaseError {
            throw StoreError.database(error)
        }
    }
}
