import Synchronization

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
    public func scopeCommit(to accounts: Set<String>) {
        scope.withLock { current in current = (current ?? []).union(accounts) }
    }

    public func didCommit(changed: Bool) {
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

    public func didRollback() {
        scope.withLock { $0 = nil }
    }
}
