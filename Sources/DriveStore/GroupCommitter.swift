import DriveStorage
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

    private let state: Mutex<GroupCommitQueue<Pending>>
    private let writer: any DatabaseWriter
    private let generation: CommitGeneration
    let maximumBatch: Int

    init(writer: any DatabaseWriter, generation: CommitGeneration, maximumBatch: Int = 256) {
        self.writer = writer
        self.generation = generation
        self.maximumBatch = max(1, maximumBatch)
        self.state = Mutex(GroupCommitQueue(maximumBatch: maximumBatch))
    }

    /// Runs `work`, which changes account `owner`'s data only, in a savepoint of the next shared
    /// transaction; returns once that committed.
    func write<T: Sendable>(owner: String, _ work: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let result = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<any Sendable, any Error>) in
            let action = state.withLock {
                $0.enqueue(Pending(owner: owner, work: { try work($0) }, continuation: continuation))
            }
            if action == .startDraining {
                Task { await self.drain() }
            }
        }
        return result as! T
    }

    /// At most this many batches run back to back in one visit to the writer; then the drain
    /// queues behind the other writers (the worker, the admin API) that wait for their turn.
    static let batchesPerVisit = 8

    /// Runs batches until the queue is empty. Each visit to the writer runs the batches that are
    /// ready one after the other on the writer's thread (taking the next one there, as soon as the
    /// last committed), instead of coming back to an event loop between two: under load that hop
    /// and the wake-ups on both sides were the pipeline's bubble (Benchmarks/README.md, round 3).
    private func drain() async {
        while true {
            let more: Bool
            do {
                more = try await writer.writeWithoutTransaction { db in
                    for _ in 0..<Self.batchesPerVisit {
                        let batch = self.state.withLock { $0.nextBatch() }
                        if batch.isEmpty { return false }
                        self.run(batch, in: db)
                    }
                    return true
                }
            } catch {
                // The writer refused the visit itself (the database is closed): `run` answers every
                // write it takes, so the writes still queued are the ones to fail.
                while case let batch = state.withLock({ $0.nextBatch() }), !batch.isEmpty {
                    for pending in batch { pending.continuation.resume(throwing: Self.storeError(error)) }
                }
                return
            }
            if !more { return }
        }
    }

    /// Runs `batch` in one transaction, then answers each write: its value, or its error.
    private func run(_ batch: [Pending], in db: Database) {
        let outcomes: [SendableResult]
        do {
            var results: [SendableResult] = []
            try db.inTransaction {
                results.removeAll(keepingCapacity: true)
                results.reserveCapacity(batch.count)
                for pending in batch {
                    var value: (any Sendable)?
                    do {
                        try Self.inSavepoint(db) { value = try pending.work(db) }
                        results.append(SendableResult(.success(value!)))
                    } catch let error as DatabaseError where Self.abortsTransaction(error) || !db.isInsideTransaction {
                        // SQLite may have rolled the whole transaction back (disk full, I/O
                        // error): the requests before this one lost their changes too, so the
                        // batch fails as one.
                        throw error
                    } catch {
                        guard db.isInsideTransaction else { throw error }
                        results.append(SendableResult(.failure(Self.storeError(error))))
                    }
                }
                generation.scopeCommit(to: Set(batch.map(\.owner)))
                return .commit
            }
            outcomes = results
        } catch {
            // The transaction did not commit: nobody's changes are there.
            for pending in batch { pending.continuation.resume(throwing: Self.storeError(error)) }
            return
        }
        for (pending, outcome) in zip(batch, outcomes) {
            pending.continuation.resume(with: outcome.result)
        }
    }

    /// GRDB's `inSavepoint` inside a transaction, with its three statements prepared once: GRDB
    /// compiles `SAVEPOINT` and `RELEASE` anew on every call (`execute(sql:)`), and every write
    /// of a batch runs in a savepoint of its own (Benchmarks/README.md, round 3). GRDB still sees
    /// them (a statement's effect on the transaction is known from its preparation), so its
    /// savepoint bookkeeping for transaction observers is the same. A failed `work` is rolled back
    /// to the savepoint and its error thrown; so is a savepoint SQLite dropped with the whole
    /// transaction (the `RELEASE` fails, and `db.isInsideTransaction` says why).
    static func inSavepoint(_ db: Database, _ work: () throws -> Void) throws {
        try db.cachedStatement(sql: "SAVEPOINT grdb").execute()
        do {
            try work()
        } catch {
            if db.isInsideTransaction {
                // As GRDB does: the first error is the one to report.
                try? db.cachedStatement(sql: "ROLLBACK TRANSACTION TO SAVEPOINT grdb").execute()
                try? db.cachedStatement(sql: "RELEASE SAVEPOINT grdb").execute()
            }
            throw error
        }
        try db.cachedStatement(sql: "RELEASE SAVEPOINT grdb").execute()
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

/// The decisions of group commit, without I/O: a write that finds nobody draining starts a
/// drain; one that arrives during a drain joins the queue; a drain takes up to `maximumBatch`
/// writes per transaction, in arrival order, and ends when the queue is empty.
struct GroupCommitQueue<Item> {
    enum EnqueueAction: Equatable {
        /// Nobody drains: the caller starts a drain.
        case startDraining
        /// A drain is running and will take this write in a later batch.
        case queued
    }

    let maximumBatch: Int
    private(set) var queue: [Item] = []
    private(set) var draining = false

    init(maximumBatch: Int) {
        self.maximumBatch = max(1, maximumBatch)
    }

    mutating func enqueue(_ item: Item) -> EnqueueAction {
        queue.append(item)
        if draining { return .queued }
        draining = true
        return .startDraining
    }

    /// The next batch to run in one transaction; empty when the queue is, which ends the drain.
    mutating func nextBatch() -> [Item] {
        let n = min(queue.count, maximumBatch)
        guard n > 0 else {
            draining = false
            return []
        }
        let taken = Array(queue.prefix(n))
        queue.removeFirst(n)
        return taken
    }
}

/// A `Result` that crosses the writer queue (its values and errors are `Sendable` by contract of
/// the works submitted).
private struct SendableResult: @unchecked Sendable {
    let result: Result<any Sendable, any Error>
    init(_ result: Result<any Sendable, any Error>) { self.result = result }
}

/// Advances a `CommitGeneration` on every commit of the connection it observes that changed a
/// row. `sqlite3_total_changes` counts every row an INSERT, UPDATE or DELETE touched, triggers and
/// WITHOUT ROWID tables included (the update hook misses the latter), so a commit that changed
/// nothing (the worker finding nothing due) leaves cached answers current.
final class CommitCounter: TransactionObserver, Sendable {
    let generation: CommitGeneration
    let afterCommit: AfterCommit
    private let seenChanges = Atomic<Int>(-1)

    init(generation: CommitGeneration, afterCommit: AfterCommit) {
        self.generation = generation
        self.afterCommit = afterCommit
    }

    func observes(eventsOfKind eventKind: DatabaseEventKind) -> Bool { false }
    func databaseDidChange(with event: DatabaseEvent) {}
    func databaseDidCommit(_ db: Database) {
        let total = db.totalChangesCount
        let changed = seenChanges.exchange(total, ordering: .relaxed) != total
        generation.didCommit(changed: changed)
        afterCommit.didCommit()
        if changed { afterCommit.signals.events.ring() }
    }
    func databaseDidRollback(_ db: Database) {
        generation.didRollback()
        afterCommit.didRollback()
    }
}
