import DriveStorage
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

/// Rendered answers of `GET` requests on drives, kept until the next commit.
///
/// Every entry carries the commit counts (global and its account's) read before the data was; an
/// entry is served only while no commit that may have changed that account's data happened
/// since, so a cached answer is always the answer the database would give now. A client that
/// wants to skip the cache anyway sends `Cache-Control: no-cache`. Entries are bounded in number
/// (`cache.response_entries`; 0 turns the cache off) and in bytes (64 MiB in all, 256 KiB each).
final class ResponseCache: Sendable {
    struct Entry: Sendable {
        let generation: CommitGeneration.Snapshot
        let body: ByteBuffer
    }

    /// Answers larger than this are not kept (a `limit=0` list of many drives).
    static let maximumBodyBytes = 256 * 1024
    /// The bodies kept add up to at most `maximumTotalBytes` (64 MiB by default): a client paging
    /// through a million drives 100 at a time must not grow the daemon by gigabytes.
    let maximumTotalBytes: Int

    private struct Store {
        var entries: [String: Entry] = [:]
        var bytes = 0
    }

    private let state = Mutex(Store())
    private let hits = Atomic<Int>(0)
    private let misses = Atomic<Int>(0)
    private let bypassed = Atomic<Int>(0)
    private let generation: CommitGeneration
    let capacity: Int

    init(generation: CommitGeneration, capacity: Int, maximumTotalBytes: Int = 64 * 1024 * 1024) {
        self.generation = generation
        self.capacity = max(0, capacity)
        self.maximumTotalBytes = max(0, maximumTotalBytes)
    }

    /// What the cache holds for a request: a current answer, or the ticket under which the
    /// answer about to be rendered is kept (nil: not kept, the cache is off).
    enum Lookup {
        case hit(Response)
        case miss(Ticket?)
    }

    struct Ticket {
        let key: String
        let generation: CommitGeneration.Snapshot
    }

    /// The answer to `request` for user `owner`: from the cache when it is current, otherwise
    /// rendered by `render` (and kept when it may be). Inlined into its callers, so that a hit
    /// makes no async call at all: only a miss awaits `render`.
    @inline(__always)
    func answer(
        _ request: Request, owner: String, render: () async throws -> [UInt8]
    ) async throws -> Response {
        switch lookup(request, owner: owner) {
        case .hit(let response): return response
        case .miss(let ticket): return keep(try await render(), ticket)
        }
    }

    /// The kept answer when it is current; else the ticket to keep the fresh one under. The
    /// commit counts are read before the data is, so an answer kept under them is never newer
    /// than they say.
    func lookup(_ request: Request, owner: String) -> Lookup {
        guard capacity > 0 else { return .miss(nil) }
        let key = owner + " " + request.uri.description
        let now = generation.snapshot(owner: owner)
        if Self.bypasses(request) {
            bypassed.add(1, ordering: .relaxed)
        } else if let entry = state.withLock({ $0.entries[key] }), entry.generation == now {
            hits.add(1, ordering: .relaxed)
            return .hit(.json(buffer: entry.body))
        } else {
            misses.add(1, ordering: .relaxed)
        }
        return .miss(Ticket(key: key, generation: now))
    }

    /// The answer made of `bytes`, kept under `ticket` when it is small enough.
    func keep(_ bytes: [UInt8], _ ticket: Ticket?) -> Response {
        let body = ByteBuffer(bytes: bytes)
        if let ticket, bytes.count <= Self.maximumBodyBytes {
            store(ticket.key, Entry(generation: ticket.generation, body: body))
        }
        return .json(buffer: body)
    }

    private func store(_ key: String, _ entry: Entry) {
        let current = generation.current
        let size = entry.body.readableBytes
        state.withLock { store in
            if let old = store.entries[key] { store.bytes -= old.body.readableBytes }
            if store.entries.count >= capacity || store.bytes + size > maximumTotalBytes {
                // Drop what a global commit made stale; when that frees too little, start over.
                store.entries = store.entries.filter { $0.value.generation.global == current }
                store.bytes = store.entries.values.reduce(0) { $0 + $1.body.readableBytes }
                if store.entries.count >= capacity || store.bytes + size > maximumTotalBytes {
                    store.entries.removeAll(keepingCapacity: true)
                    store.bytes = 0
                }
            }
            store.entries[key] = entry
            store.bytes += size
        }
    }

    /// Hits, misses, bypasses so far; answers kept (stale ones included until replaced or dropped).
    var statistics: (hits: Int, misses: Int, bypasses: Int, entries: Int, bytes: Int) {
        let (count, bytes) = state.withLock { ($0.entries.count, $0.bytes) }
        return (hits.load(ordering: .relaxed), misses.load(ordering: .relaxed), bypassed.load(ordering: .relaxed), count, bytes)
    }

    static let pragma = HTTPField.Name("Pragma")!

    /// `Cache-Control: no-cache` (or `no-store`, or `Pragma: no-cache`) asks for a fresh answer.
    static func bypasses(_ request: Request) -> Bool {
        for value in request.headers[values: .cacheControl] {
            if value.containsASCII("no-cache", ignoringCase: true) || value.containsASCII("no-store", ignoringCase: true)
                || value.containsASCII("max-age=0", ignoringCase: true)
            {
                return true
            }
        }
        if let pragma = request.headers[Self.pragma], pragma.containsASCII("no-cache", ignoringCase: true) { return true }
        return false
    }
}
