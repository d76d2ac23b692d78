import GRDB
import Synchronization

/// Group commit: write requests that arrive while a transaction is running wait for it to end,
/// then share the next transaction, and so its WAL commit. Each request runs in its own savepoint,
/// so a request that fails (validation, conflict) rolls back its own changes only and the others
/// still commit; a request is answered only after the transaction holding its changes committed.
///
/// With one client nothing waits: a request finds no transaction running and starts one at once.
/// Under load the batches grow by themselves (up to `maximumBatch` requests), which is what turns
/// one commit per create into one commit per batch.
final class GroupCommitter: Sendable {
    private struct Pending: Sendable {
        let owner: String
        let work: @Sendable (Database) throws -> any Sendable
        let continuation: CheckedContinuation<any Sendable, any Error>
    }

    private struct State: Sendable {
        var queue: [Pending] = []
        var draining = false
    }

    private let state = Mutex(State())
    private let writer: any DatabaseWriter
    private let generation: CommitGeneration
    let maximumBatch: Int

    init(writer: any DatabaseWriter, generation: CommitGeneration, maximumBatch: Int = 256) {
        self.writer = writer
        self.generation = generation
        self.maximumBatch = max(1, maximumBatch)
    }

    /// Runs `work`, which changes account `owner`'s data only, in a savepoint of the next shared
    /// transaction; returns once that committed.
    func write<T: Sendable>(owner: String, _ work: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let result = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<any Sendable, any Error>) in
            let startDrain = state.withLock { state -> Bool in
                state.queue.append(Pending(owner: owner, work: { try work($0) }, continuation: continuation))
                if state.draining { return false }
                state.draining = true
                return true
            }
            if startDrain {
                Task { await self.drain() }
            }
        }
        return result as! T
    }

    /// Runs batches until the queue is empty.
    private func drain() async {
        while true {
            let batch = state.withLock { state -> [Pending] in
                let n = min(state.queue.count, maximumBatch)
                guard n > 0 else {
                    state.draining = false
                    return []
                }
                let taken = Array(state.queue.prefix(n))
                state.queue.removeFirst(n)
                return taken
            }
            if batch.isEmpty { return }
            await run(batch)
        }
    }

    private func run(_ batch: [Pending]) async {
        let outcomes: [SendableResult]
        do {
            outcomes = try await writer.write { db in
                var outcomes: [SendableResult] = []
                outcomes.reserveCapacity(batch.count)
                for pending in batch {
                    var value: (any Sendable)?
                    do {
                        try db.inSavepoint {
                            value = try pending.work(db)
                            return .commit
                        }
                        outcomes.append(SendableResult(.success(value!)))
                    } catch let error as DatabaseError where Self.abortsTransaction(error) || !db.isInsideTransaction {
                        // SQLite may have rolled the whole transaction back (disk full, I/O
                        // error): the requests before this one lost their changes too, so the
                        // batch fails as one.
                        throw error
                    } catch {
                        guard db.isInsideTransaction else { throw error }
                        outcomes.append(SendableResult(.failure(Self.storeError(error))))
                    }
                }
                generation.scopeCommit(to: Set(batch.map(\.owner)))
                return outcomes
            }
        } catch {
            // The transaction did not commit: nobody's changes are there.
            for pending in batch { pending.continuation.resume(throwing: Self.storeError(error)) }
            return
        }
        for (pending, outcome) in zip(batch, outcomes) {
            pending.continuation.resume(with: outcome.result)
        }
    }

    /// Errors after which SQLite may roll back the whole transaction on its own.
    static func abortsTransaction(_ error: DatabaseError) -> Bool {
        switch error.resultCode {
        case .SQLITE_FULL, .SQLITE_IOERR, .SQLITE_BUSY, .SQLITE_NOMEM, .SQLITE_CORRUPT, .SQLITE_READONLY: true
        default: false
        }
    }

    static func storeError(_ error: any Error) -> any Error {
        if let error = error as? DatabaseError { return StoreError.database(error) }
        return error
    }
}

/// A `Result` that crosses the writer queue (its values and errors are `Sendable` by contract of
/// the works submitted).
private struct SendableResult: @unchecked Sendable {
    let result: Result<any Sendable, any Error>
    init(_ result: Result<any Sendable, any Error>) { self.result = result }
}

/// Counts committed write transactions, for everything and per account. Anything derived from
/// the database (a rendered answer) is current as long as neither the global count nor its
/// account's count moved since it was read: the counts move inside the commit, before the writer
/// is answered, so a client that saw its write acknowledged never gets an answer from before it.
///
/// A transaction that declares the accounts it touched (`scopeCommit(to:)`: the API's drive
/// writes, the worker's completions) moves those accounts' counts only; any other (admin, servers,
/// tags, migrations) moves the global count, which invalidates everything.
public final class CommitGeneration: Sendable {
    private let global = Atomic<UInt64>(0)
    private let commits = Atomic<UInt64>(0)
    private let owners = Mutex<[String: UInt64]>([:])
    private let scope = Mutex<Set<String>?>(nil)

    public init() {}

    /// The global count.
    public var current: UInt64 { global.load(ordering: .acquiring) }

    /// Commits that changed at least one row, since start.
    public var commitCount: UInt64 { commits.load(ordering: .relaxed) }

    /// (global, account) counts: compare a later snapshot to see whether `owner`'s data may
    /// have changed.
    public func snapshot(owner: String) -> Snapshot {
        let g = global.load(ordering: .acquiring)
        return Snapshot(global: g, owner: owners.withLock { $0[owner] ?? 0 })
    }

    public struct Snapshot: Equatable, Sendable {
        public let global: UInt64
        public let owner: UInt64
    }

    /// Called inside a write transaction: its commit changes only these accounts' data.
    func scopeCommit(to accounts: Set<String>) {
        scope.withLock { current in current = (current ?? []).union(accounts) }
    }

    func didCommit(changed: Bool) {
        let scoped = scope.withLock { current -> Set<String>? in
            defer { current = nil }
            return current
        }
        guard changed else { return }
        commits.add(1, ordering: .relaxed)
        if let scoped {
            owners.withLock { counts in
                for owner in scoped { counts[owner, default: 0] &+= 1 }
            }
        } else {
            global.add(1, ordering: .releasing)
        }
    }

    func didRollback() {
        scope.withLock { $0 = nil }
    }
}

/// Advances a `CommitGeneration` on every commit of the connection it observes that changed a
/// row. `sqlite3_total_changes` counts every row an INSERT, UPDATE or DELETE touched, triggers and
/// WITHOUT ROWID tables included (the update hook misses the latter), so a commit that changed
/// nothing (the worker finding nothing due) leaves cached answers current.
final class CommitCounter: TransactionObserver, Sendable {
    let generation: CommitGeneration
    private let seenChanges = Atomic<Int>(-1)

    init(generation: CommitGeneration) { self.generation = generation }

    func observes(eventsOfKind eventKind: DatabaseEventKind) -> Bool { false }
    func databaseDidChange(with event: DatabaseEvent) {}
    func databaseDidCommit(_ db: Database) {
        let total = db.totalChangesCount
        generation.didCommit(changed: seenChanges.exchange(total, ordering: .relaxed) != total)
    }
    func databaseDidRollback(_ db: Database) { generation.didRollback() }
}
