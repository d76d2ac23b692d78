import DriveStorage
import Foundation
import GRDB
import Logging
import Synchronization

/// The drivesd database: the only owner of SQLite connections.
///
/// Production opens a `DatabasePool` (WAL: one writer, concurrent readers); tests may open an
/// in-memory queue. The schema comes from `migrations/*.sql`, applied in order and recorded so
/// each runs once.
public struct AppDatabase: Sendable {
    /// How SQLite syncs commits to disk (`PRAGMA synchronous`).
    public enum Synchronous: String, Sendable, CaseIterable {
        /// Survives a crash or `kill -9` of the daemon; a power loss may roll back the last commits.
        case normal
        /// fsync on every commit: survives a power loss too, at a cost per write.
        case full
    }

    let writer: any DatabaseWriter
    /// Where the database lives; nil in memory.
    public let path: String?
    /// Shares transactions between concurrent API writes (see `groupWrite`).
    let committer: GroupCommitter
    /// Commit counts, global and per account, moved inside every commit that changed a row.
    public let generation = CommitGeneration()
    /// Rung after commits that scheduled transitions or recorded effects.
    public let signals = StoreSignals()
    /// Holds those rings until the transaction commits.
    let afterCommit: AfterCommit
    /// Read-only connections for `readNow`; nil in memory.
    let localReaders: LocalReaders?

    init(writer: any DatabaseWriter, path: String?, localReaders: LocalReaders? = nil) {
        self.writer = writer
        self.path = path
        self.localReaders = localReaders
        self.afterCommit = AfterCommit(signals: signals)
        self.committer = GroupCommitter(writer: writer, generation: generation)
        writer.add(
            transactionObserver: CommitCounter(generation: generation, afterCommit: afterCommit), extent: .databaseLifetime)
    }

    /// Opens (creating when missing) the database file at `path` in WAL mode. Does not migrate.
    public static func open(path: String, synchronous: Synchronous = .normal, readers: Int = 4) throws -> AppDatabase {
        var config = Configuration()
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(10)
        config.maximumReaderCount = max(1, readers)
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous.rawValue.uppercased())")
            if !db.configuration.readonly {
                // Checkpoint every ~16 MiB of WAL instead of 4 MiB: pages written again and
                // again (index tails, counters, the transitions table) are copied into the
                // database once per checkpoint, not once per 1000 pages. The WAL is truncated
                // back to that size after a checkpoint.
                try db.execute(sql: "PRAGMA wal_autocheckpoint = 4000")
                try db.execute(sql: "PRAGMA journal_size_limit = 16777216")
                // The writer keeps the hot part of the indexes it inserts into in memory.
                try db.execute(sql: "PRAGMA cache_size = -32768")
                // Sub-journals in memory: every API write runs in a savepoint of a group
                // commit, and inside it each statement with triggers journals every page it
                // touches anew (8 pages a drive insert: the row, five indexes, the counters).
                // SQLite keeps that journal in memory up to 64 KiB, then spills it to a temp
                // file: a bulk create of 100 wrote 3 MiB through ~1,600 `pwrite`s, more system
                // calls than its WAL frames. The journal lives until the savepoint is released.
                try db.execute(sql: "PRAGMA temp_store = MEMORY")
            }
        }
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(
            at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        do {
            let pool = try DatabasePool(path: path, configuration: config)
            let local = try LocalReaders(path: path, count: max(2, ProcessInfo.processInfo.activeProcessorCount))
            return AppDatabase(writer: pool, path: path, localReaders: local)
        } catch let error as DatabaseError {
            throw StoreError.cannotOpen(path: path, reason: error.message ?? "\(error)")
        }
    }

    /// An in-memory database, for tests.
    public static func inMemory() throws -> AppDatabase {
        var config = Configuration()
        config.foreignKeysEnabled = true
        return AppDatabase(writer: try DatabaseQueue(configuration: config), path: nil)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        for migration in EmbeddedMigrations.all {
            migrator.registerMigration(migration.name) { db in
                try db.execute(sql: migration.sql)
            }
        }
        return migrator
    }

    /// The names of every migration the binary knows, in order.
    public static var knownMigrations: [String] { EmbeddedMigrations.all.map(\.name) }

    /// The SQL the binary carries for migration `name` (to check it against `migrations/`).
    public static func embeddedSQL(_ name: String) -> String? {
        EmbeddedMigrations.all.first { $0.name == name }?.sql
    }

    /// Applies pending migrations; returns the names of those it applied.
    @discardableResult
    public func migrate() throws -> [String] {
        let migrator = Self.migrator
        let before = try writer.read { db in try migrator.appliedIdentifiers(db) }
        do {
            try migrator.migrate(writer)
        } catch let error as DatabaseError {
            throw StoreError.migrationFailed(error.message ?? "\(error)")
        }
        return Self.knownMigrations.filter { !before.contains($0) }
    }

    /// Names of the migrations recorded as applied.
    public func appliedMigrations() throws -> [String] {
        try writer.read { db in
            try Self.migrator.appliedIdentifiers(db).sorted()
        }
    }

    /// True when every known migration is applied.
    public func isMigrated() throws -> Bool {
        try writer.read { db in try Self.migrator.hasCompletedMigrations(db) }
    }

    /// `PRAGMA integrity_check`, then the counts the triggers keep against a recount of the rows
    /// they count (`DerivedCounts`): "ok" when the database is sound and its counts hold.
    public func integrityCheck() throws -> String {
        try readSync { db in
            let pragma = try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "; ")
            guard pragma == "ok" else { return pragma }
            let problems = try DerivedCounts.problems(db)
            return problems.isEmpty ? "ok" : problems.joined(separator: "; ")
        }
    }

    /// Closes the connections (after the last use). The WAL is checkpointed into the database file
    /// and truncated first, so that a cleanly stopped daemon leaves one self-contained file (a
    /// copy of it alone is a complete database); SQLite does that on its own only when the last
    /// connection it closes can write, which the read-only local readers do not guarantee.
    /// Frees what SQLite caches (pages, prepared statements) on every connection, once the
    /// daemon is idle: blocks while a connection is in use, so call it off the event loops.
    public func releaseMemory() {
        localReaders?.releaseMemory()
        if let pool = writer as? DatabasePool { pool.releaseMemory() } else if let queue = writer as? DatabaseQueue { queue.releaseMemory() }
    }

    public func close() throws {
        try localReaders?.close()
        if let pool = writer as? DatabasePool {
            try pool.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
            }
            try pool.close()
        } else if let queue = writer as? DatabaseQueue {
            try queue.close()
        }
    }

    // MARK: Access helpers: every failure below SQLite becomes a `StoreError`.

    func read<T: Sendable>(_ body: @Sendable @escaping (Database) throws -> T) async throws -> T {
        do {
            return try await writer.read(body)
        } catch let error as DatabaseError {
            throw StoreError.database(error)
        }
    }

    func write<T: Sendable>(_ body: @Sendable @escaping (Database) throws -> T) async throws -> T {
        do {
            return try await writer.write(body)
        } catch let error as DatabaseError {
            throw StoreError.database(error)
        }
    }

    /// A short read (an index lookup, a small page) on the calling thread, on a connection of its
    /// own: no hop to a reader queue and back. When every local connection is busy it reads
    /// through the pool instead, so it never waits for a connection while holding a thread.
    func readNow<T: Sendable>(_ body: @Sendable @escaping (Database) throws -> T) async throws -> T {
        do {
            if let localReaders, let value = try localReaders.read(body) { return value }
        } catch let error as DatabaseError {
            throw StoreError.database(error)
        }
        return try await read(body)
    }

    /// Whether fixed query `sql` finds a row (a `readNow`, through the statement cache).
    func exists(sql: String, arguments: StatementArguments) async throws -> Bool {
        try await readNow { db in try Bool.fetchOne(db.cachedStatement(sql: sql), arguments: arguments) ?? false }
    }

    /// An API write: `body` runs in its own savepoint of a transaction it may share with writes
    /// that arrived meanwhile (group commit); it returns once that transaction committed. A
    /// failure of `body` undoes its changes only.
    /// `body` must change account `owner`'s data only: answers cached for other accounts stay.
    func groupWrite<T: Sendable>(owner: String, _ body: @Sendable @escaping (Database) throws -> T) async throws -> T {
        try await committer.write(owner: owner, body)
    }

    func readSync<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try writer.read(body)
        } catch let error as DatabaseError {
            throw StoreError.database(error)
        }
    }

    func writeSync<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try writer.write(body)
        } catch let error as DatabaseError {
            throw StoreError.database(error)
        }
    }
}

extension Database {
    /// Executes SQL whose text is fixed (no values spelled into it) through the connection's
    /// statement cache: compiled once per connection, not once per request.
    func run(sql: String, arguments: StatementArguments = StatementArguments()) throws {
        try cachedStatement(sql: sql).execute(arguments: arguments)
    }
}

/// A few read-only connections used on the calling thread (see `AppDatabase.readNow`). A caller
/// takes one if one is free and never waits for one: blocking a thread of the cooperative pool
/// while other tasks hold connections they need that pool to release is how such designs
/// deadlock.
final class LocalReaders: Sendable {
    private let free: Mutex<[DatabaseQueue]>
    private let all: [DatabaseQueue]

    init(path: String, count: Int) throws {
        var config = Configuration()
        config.readonly = true
        config.busyMode = .timeout(10)
        config.label = "drivesd.local-reader"
        all = try (0..<max(1, count)).map { _ in try DatabaseQueue(path: path, configuration: config) }
        free = Mutex(all)
    }

    /// `body`'s value, or nil when no connection is free.
    func read<T>(_ body: (Database) throws -> T) throws -> T? {
        guard let queue = free.withLock({ $0.popLast() }) else { return nil }
        defer { free.withLock { $0.append(queue) } }
        // One deferred read transaction (a consistent snapshot across the statements of `body`),
        // begun and ended by cached statements: `DatabaseQueue.read` would also toggle
        // `query_only` and parse its BEGIN anew, which cost more than a lookup by uuid. The
        // connection is read-only already.
        return try queue.inDatabase { db in
            try db.cachedStatement(sql: "BEGIN DEFERRED TRANSACTION").execute()
            do {
                let value = try body(db)
                try db.cachedStatement(sql: "COMMIT").execute()
                return value
            } catch {
                if db.isInsideTransaction { try? db.cachedStatement(sql: "ROLLBACK").execute() }
                throw error
            }
        }
    }

    func releaseMemory() {
        for queue in all { queue.releaseMemory() }
    }

    func close() throws {
        for queue in all { try queue.close() }
    }
}
