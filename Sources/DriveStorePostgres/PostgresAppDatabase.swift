import DriveModel
import DriveStorage
import Foundation
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// The PostgreSQL counterpart of the SQLite store's `AppDatabase`: transactions for the stores,
/// the commit counts the response cache and the websocket follow, and the signals the worker and
/// the outbox runner sleep on, over a database several drivesd processes share.
///
/// **Writes** take one advisory lock for the whole database (`pg_advisory_xact_lock`), so write
/// transactions of every process run one at a time, as SQLite's do: what a store reads inside a
/// write (a drive's status, a name, a count) cannot change before it commits, every
/// compare-and-swap sees the one order of commits, and change events are numbered in commit
/// order. Reads take no lock and run beside the writes (in a REPEATABLE READ snapshot when a
/// read has several statements). A bigger machine gains read throughput, not write throughput.
///
/// **Other processes' commits** reach this one through `LISTEN drivesd`: every write that changed
/// rows sends `NOTIFY drivesd` with its process's id inside its transaction (delivered at commit),
/// and the listener rings this process's doorbells (transitions, outbox, events) and moves the
/// global commit count.
public final class PostgresAppDatabase: Sendable {
    public let store: PostgresStore
    let generation = CommitGeneration()
    let signals = StoreSignals()
    let afterCommit: AfterCommit
    /// Where the database lives: nil (not a file).
    let path: String? = nil
    /// Tells this process's notifications from the others'.
    let processID = UUID().uuidString
    /// One write transaction of this process at a time waits for the database's write lock.
    private let writeTurn = AsyncLock()
    private let migrated = Atomic<Bool>(false)
    private let alone = Atomic<Bool>(false)
    /// The connection holding this process's share of the serving lock (see `joinServers`).
    private let serving = Mutex<PostgresConnection?>(nil)

    /// How long a published change event stays for processes that have not read it yet.
    static let eventRetention: Double = 300
    /// The key of the advisory lock serving processes share (see `joinServers`).
    static let servingLock: Int64 = 0x6472_6976_6573_6453  // "drivesdS"

    public init(store: PostgresStore) {
        self.store = store
        self.afterCommit = AfterCommit(signals: signals)
    }

    var logger: Logger { store.logger }

    /// The key of the advisory lock every write transaction holds.
    static let writeLock: Int64 = 0x6472_6976_6573_6457  // "drivesdW"

    /// Applies the migrations the database lacks (see `PostgresStore.migrate`).
    @discardableResult
    public func migrate() async throws -> [String] {
        let applied = try await store.migrate()
        migrated.store(try await store.isMigrated(), ordering: .relaxed)
        return applied
    }

    /// Whether every migration was applied when this process last looked (readiness).
    func isMigrated() throws -> Bool { migrated.load(ordering: .relaxed) }

    /// Whether this process found no other serving when it joined (`joinServers`).
    var servesAlone: Bool { alone.load(ordering: .relaxed) }

    /// Joins the processes serving this database, for as long as this one runs: each holds a
    /// shared advisory lock on a connection of its own, which the server releases when the
    /// process dies. A process that finds none serving (it takes the lock exclusively) runs
    /// `whileAlone` first, holding the others off: the start-up clean-up that removes what no
    /// row references, which with another process serving could be that process's upload in
    /// flight. Returns whether this process was alone.
    public func joinServers(whileAlone: () async throws -> Void) async throws -> Bool {
        let connection = try await store.dedicatedConnection()
        do {
            let exclusive = try await connection.query(
                "SELECT pg_try_advisory_lock(\(Self.servingLock))", logger: logger
            ).collect().first?.decode(Bool.self) ?? false
            // Taken while holding the exclusive lock, a shared one is granted at once; otherwise
            // it waits for a process still cleaning up.
            try await connection.query("SELECT pg_advisory_lock_shared(\(Self.servingLock))", logger: logger)
            if exclusive {
                alone.store(true, ordering: .relaxed)
                try await whileAlone()
                try await connection.query("SELECT pg_advisory_unlock(\(Self.servingLock))", logger: logger)
            }
            serving.withLock { $0 = connection }
            return exclusive
        } catch {
            try? await connection.close()
            throw PostgresStore.translate(error)
        }
    }

    /// Leaves the serving processes (at a clean stop).
    public func leaveServers() async {
        if let connection = serving.withLock({ current -> PostgresConnection? in
            defer { current = nil }
            return current
        }) {
            try? await connection.close()
        }
    }

    /// The counts the triggers keep against a recount of the rows they count (`DerivedCounts`),
    /// in one snapshot: "ok" when they hold. (PostgreSQL checks its own pages; this is the
    /// counterpart of the rest of the SQLite store's `integrityCheck`.)
    public func countsCheck() async throws -> String {
        let problems = try await read { db in try DerivedCounts.problems(db) }
        return problems.isEmpty ? "ok" : problems.joined(separator: "; ")
    }

    // MARK: Transactions

    func read<T: Sendable>(_ body: @Sendable @escaping (Database) throws -> T) async throws -> T {
        try await store.client.withConnection { connection in
            try await self.store.blocking.runIfActive {
                let db = Database(connection: connection, logger: self.logger)
                try db.execute(sql: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                do {
                    let value = try body(db)
                    try db.execute(sql: "COMMIT")
                    return value
                } catch {
                    try? db.execute(sql: "ROLLBACK")
                    throw error
                }
            }
        }
    }

    func readNow<T: Sendable>(_ body: @Sendable @escaping (Database) throws -> T) async throws -> T {
        try await read(body)
    }

    func exists(sql: String, arguments: StatementArguments) async throws -> Bool {
        try await read { db in try Bool.fetchOne(db, sql: sql, arguments: arguments) ?? false }
    }

    func write<T: Sendable>(_ body: @Sendable @escaping (Database) throws -> T) async throws -> T {
        try await write(scope: nil, body)
    }

    /// A write that changes account `owner`'s data only: answers cached for other accounts stay.
    func groupWrite<T: Sendable>(owner: String, _ body: @Sendable @escaping (Database) throws -> T) async throws -> T {
        try await write(scope: owner, body)
    }

    private func write<T: Sendable>(scope owner: String?, _ body: @Sendable @escaping (Database) throws -> T) async throws -> T {
        try await writeTurn.withLock {
            try await store.client.withConnection { connection in
                try await self.store.blocking.runIfActive {
                    let db = Database(connection: connection, logger: self.logger)
                    try db.execute(sql: "BEGIN")
                    do {
                        try db.execute(sql: "SELECT pg_advisory_xact_lock(?)", arguments: [Self.writeLock])
                        if let owner { self.generation.scopeCommit(to: [owner]) }
                        let value = try body(db)
                        let changed = db.totalChangesCount > 0
                        if changed {
                            try db.execute(sql: "SELECT pg_notify('drivesd', ?)", arguments: [self.processID])
                        }
                        try db.execute(sql: "COMMIT")
                        self.generation.didCommit(changed: changed)
                        self.afterCommit.didCommit()
                        if changed { self.signals.events.ring() }
                        return value
                    } catch {
                        try? db.execute(sql: "ROLLBACK")
                        self.generation.didRollback()
                        self.afterCommit.didRollback()
                        throw error
                    }
                }
            }
        }
    }

    // MARK: Other processes

    /// Listens for other processes' commits until cancelled, reconnecting after a failure; each
    /// one rings every doorbell and moves the global commit count.
    public func listen() async {
        while !Task.isCancelled {
            do {
                // A connection outside the pool: closing it ends the wait for notifications when
                // the task is cancelled, and the pool's shutdown never waits for it.
                let connection = try await store.dedicatedConnection()
                try await withTaskCancellationHandler {
                    try await connection.listen(on: "drivesd") { notifications in
                        // A commit made while this connection was not yet listening is caught up
                        // by ringing everything once now.
                        self.otherProcessCommitted()
                        for try await notification in notifications where notification.payload != self.processID {
                            self.otherProcessCommitted()
                        }
                    }
                } onCancel: {
                    let closing: EventLoopFuture<Void> = connection.close()
                    _ = closing
                }
                try? await connection.close()
            } catch {
                if Task.isCancelled { return }
                logger.warning("LISTEN drivesd failed; retrying", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    private func otherProcessCommitted() {
        generation.didCommit(changed: true)
        signals.transitions.ring()
        signals.outbox.ring()
        signals.events.ring()
    }
}

/// A lock for tasks: waiters queue in order and suspend instead of blocking a thread.
final class AsyncLock: Sendable {
    private struct State {
        var held = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    func withLock<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        await acquire()
        defer { release() }
        return try await body()
    }

    private func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { state -> Bool in
                if state.held {
                    state.waiters.append(continuation)
                    return false
                }
                state.held = true
                return true
            }
            if resumeNow { continuation.resume() }
        }
    }

    private func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiters.isEmpty {
                state.held = false
                return nil
            }
            return state.waiters.removeFirst()
        }
        next?.resume()
    }
}

/// The name the shared stores (`Shared/`) know the database by, in this module as in DriveStore.
public typealias AppDatabase = PostgresAppDatabase
